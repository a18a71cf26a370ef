// Length-prefixed frames: a 4-byte big-endian length, then that many bytes of canonical
// JSON. The length is checked against the maximum before any byte is buffered, so a
// peer cannot make the other side allocate more than one maximum record.
import { canonicalJson } from '../common/canonical-json.js';
import { MAX_RECORD_BYTES, RecordError } from './records.js';

const HEADER_BYTES = 4;

export function encodeFrame(record: object): Buffer {
  const body = Buffer.from(canonicalJson(record), 'utf8');
  if (body.length > MAX_RECORD_BYTES) throw new RecordError(`record of ${body.length} bytes exceeds ${MAX_RECORD_BYTES}`);
  const frame = Buffer.allocUnsafe(HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, HEADER_BYTES);
  return frame;
}

export class FrameDecoder {
  private buffered: Buffer = Buffer.alloc(0);

  // Returns the complete frame bodies in `chunk` (plus what was buffered before).
  push(chunk: Buffer): Buffer[] {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const frames: Buffer[] = [];
    while (this.buffered.length >= HEADER_BYTES) {
      const length = this.buffered.readUInt32BE(0);
      if (length > MAX_RECORD_BYTES) throw new RecordError(`frame of ${length} bytes exceeds ${MAX_RECORD_BYTES}`);
      if (length === 0) throw new RecordError('empty frame');
      if (this.buffered.length < HEADER_BYTES + length) break;
      frames.push(this.buffered.subarray(HEADER_BYTES, HEADER_BYTES + length));
      this.buffered = this.buffered.subarray(HEADER_BYTES + length);
    }
    return frames;
  }
}
