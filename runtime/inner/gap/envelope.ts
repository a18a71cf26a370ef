// The envelope every device message travels in ({v, id, type, ts, body}; docs/design.md).
import { Ajv } from 'ajv';
import type { Request } from '../../../devices/protocol.js';
import { FerryError } from '../../common/errors.js';
import { schemaError } from './schema-errors.js';

const ajv = new Ajv({ strict: true, allErrors: false });

const validateEnvelope = ajv.compile({
  type: 'object',
  additionalProperties: false,
  required: ['v', 'id', 'type', 'ts', 'body'],
  properties: {
    v: { const: 1 },
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$' },
    type: { type: 'string', pattern: '^[a-z]+(\\.[a-z]+)+$', maxLength: 64 },
    // ISO-8601 with a zone; the gateway keeps its own clock for anything that matters.
    ts: { type: 'string', maxLength: 40, pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2})$' },
    body: { type: 'object' },
  },
});

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function parsePayload(payload: Buffer): unknown {
  let json: string;
  try {
    json = utf8.decode(payload);
  } catch {
    throw new FerryError('MALFORMED', 'The payload is not valid UTF-8.');
  }
  try {
    return JSON.parse(json);
  } catch (err) {
    throw new FerryError('MALFORMED', `The payload is not JSON: ${(err as Error).message}`);
  }
}

export function checkEnvelope(value: unknown): Request {
  if (!validateEnvelope(value)) throw schemaError('ENVELOPE', validateEnvelope.errors, '');
  return value as unknown as Request;
}

// The request id, when one can be read even from an envelope that failed its checks,
// so that the device can match the error to what it sent.
export function requestIdOf(value: unknown): string | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const id = (value as { id?: unknown }).id;
  return typeof id === 'string' && /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/.test(id) ? id : undefined;
}
