// Turns ajv's first error into the device-facing error: a stable code, a sentence a
// kiosk vendor can act on, and the JSON pointer of the offending field.
import type { ErrorObject } from 'ajv';
import { FerryError, type ErrorCode } from '../../common/errors.js';

export function schemaError(code: ErrorCode, errors: ErrorObject[] | null | undefined, prefix: string): FerryError {
  const e = errors?.[0];
  if (!e) return new FerryError(code, 'Invalid message.', prefix || '/');
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    const path = `${prefix}${e.instancePath}/${String(params.additionalProperty)}`;
    return new FerryError(code, `Unknown field ${path}.`, path);
  }
  if (e.keyword === 'required') {
    const path = `${prefix}${e.instancePath}/${String(params.missingProperty)}`;
    return new FerryError(code, `Missing field ${path}.`, path);
  }
  const path = `${prefix}${e.instancePath}` || '/';
  return new FerryError(code, `${path} ${e.message ?? 'is invalid'}.`, path);
}
