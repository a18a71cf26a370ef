import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

// Paths that never reach a log line: credentials, signing keys and anything that
// identifies a patient. Operators read logs; logs are not a patient record.
export const REDACT_PATHS = [
  'password', '*.password', '*.*.password', 'secret', '*.secret', '*.*.secret', 'token', '*.token',
  'authorization', '*.authorization', 'headers.authorization', 'headers["x-ferry-signature"]',
  'authCode', '*.authCode', '*.*.authCode',
  'patientId', '*.patientId', '*.*.patientId',
  'phone', '*.phone', '*.*.phone', 'idCard', '*.idCard', '*.*.idCard',
  '*.patientName', 'body.symptoms', '*.body.symptoms',
];

export function createLogger(name: string, level = process.env.FERRY_LOG_LEVEL ?? 'info', dest?: DestinationStream): Logger {
  const options = {
    name,
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    base: { proc: name, pid: process.pid },
  };
  return dest ? pino(options, dest) : pino(options);
}
