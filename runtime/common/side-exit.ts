// How a side's process ends, and how it tells `ferry start` that it serves. `ferry start` (the supervisor) and the systemd units
// (RestartPreventExitStatus=) read the same statuses: after a fatal one, starting the
// process again cannot help, so it is not restarted and the operator is told why.
import { ListenError } from './listen.js';

export const SIDE_EXIT = Object.freeze({
  ok: 0,
  failed: 1, // bad rule files, an unclean stop, a crash: worth a restart
  noPaymentServer: 2, // outer side: payment.url is not set
  cannotListen: 3, // a port or the channel socket is taken
  // inner side: the store is of a newer format than this Ferry knows, its format key is
  // unreadable, or its format migration failed (docs/store-format.md). Restarting would
  // refuse again, or take another whole backup before failing again.
  storeFormat: 4,
  steppedDown: 5, // inner side of a pair: it lost the leader lock; restarted, it is the standby
});

export const SIDE_EXIT_FATAL: readonly number[] = Object.freeze([SIDE_EXIT.noPaymentServer, SIDE_EXIT.cannotListen, SIDE_EXIT.storeFormat]);

// The store's codes that SIDE_EXIT.storeFormat stands for (StoreError, matched by code:
// this module is shared by both sides and imports nothing of the inner one).
const STORE_FORMAT_CODES: ReadonlySet<string> = new Set(['FORMAT_NEWER', 'FORMAT_UNREADABLE', 'MIGRATION_FAILED']);

// A side that cannot start says why in one line on stderr (the journal, or the terminal
// of `ferry start`), not with a stack trace, and exits with the status that says whether
// a restart could help.
export function exitOnStartFailure(side: string, err: unknown): never {
  if (err instanceof ListenError) {
    process.stderr.write(`${err.line}\n`);
    process.exit(SIDE_EXIT.cannotListen);
  }
  process.stderr.write(`ferry: the ${side} side could not start: ${(err as Error).message ?? String(err)}\n`);
  const code = (err as { name?: unknown; code?: unknown }).name === 'StoreError' ? String((err as { code?: unknown }).code) : '';
  process.exit(STORE_FORMAT_CODES.has(code) ? SIDE_EXIT.storeFormat : SIDE_EXIT.failed);
}

// Under `ferry start` (an IPC channel to the supervisor): the side now serves. The
// supervisor reports the whole gateway ready once every side has said so.
export const SIDE_READY_MESSAGE = Object.freeze({ ferry: 'ready' });

export function tellSupervisorReady(): void {
  if (process.send && process.connected) process.send(SIDE_READY_MESSAGE);
}
