// A child process stops the same way whatever stops it: SIGTERM from the supervisor or
// systemd, SIGINT from a terminal, or the supervisor's IPC channel closing (it died and
// the child must not linger holding the store's lock or a port).
import type { Logger } from './logger.js';

export function stopOnSignals(log: Logger, name: string, close: () => Promise<void>): void {
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ reason }, `${name} stopping`);
    close().then(() => process.exit(0), (err: Error) => {
      log.error({ err: err.message }, `${name} did not stop cleanly`);
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('supervisor gone'));
}
