// What a table of channel record kinds gives: one row per kind (who sends it, what answers
// it, its fields) and, derived from the rows alone, the records' TypeScript types, the
// check of every record that arrives, and the type of each side's map of handlers. In the
// spirit of OpenSSH monitor.c's mon_table: a kind that is not a row cannot cross, and a
// row whose receiving side has no handler does not start.
import { Ajv, type ValidateFunction } from 'ajv';
import { object, string, type Fields, type ObjectOf } from './schema.js';

export type Side = 'inner' | 'outer';
export type Peer<S extends Side> = S extends 'inner' ? 'outer' : 'inner';

export interface Row<Kind extends string = string> {
  // The side that sends it. `both`: the connection's own records (hello, heartbeat),
  // which either side sends and ChannelConnection consumes; no handler map sees them.
  readonly from: Side | 'both';
  // The kinds the receiver sends back in answer to it, if any.
  readonly answers: readonly Kind[];
  // Every field but `k`; a field not listed here makes the record invalid.
  readonly fields: Fields;
}
export type Rows<T> = { readonly [K in keyof T]: Row<keyof T & string> };

type Flat<T> = { [K in keyof T]: T[K] } & {};
export type KindOf<T> = keyof T & string;
export type RecordOf<T extends Rows<T>, K extends KindOf<T>> = Flat<{ k: K } & ObjectOf<T[K]['fields']>>;
export type AnyRecordOf<T extends Rows<T>> = { [K in KindOf<T>]: RecordOf<T, K> }[KindOf<T>];
// The kinds a side's handlers take: those its peer sends.
export type HandledBy<T extends Rows<T>, S extends Side> = { [K in KindOf<T>]: T[K]['from'] extends Peer<S> ? K : never }[KindOf<T>];
// A handler may return a promise; its rejection goes to the receiver's onError.
export type Handlers<T extends Rows<T>, S extends Side> = { readonly [K in HandledBy<T, S>]: (record: RecordOf<T, K>) => unknown };

export class RecordError extends Error {}

const receiverOf = (from: Row['from']): Row['from'] => (from === 'inner' ? 'outer' : from === 'outer' ? 'inner' : 'both');

export class ChannelTable<T extends Rows<T>> {
  readonly rows: T;
  readonly kinds: ReadonlyArray<KindOf<T>>;
  // Which side may receive which kind: refuses a record arriving in the wrong direction.
  readonly receives: Readonly<Record<Side, ReadonlySet<KindOf<T>>>>;
  private readonly validators = new Map<string, ValidateFunction>();

  constructor(rows: T) {
    this.rows = rows;
    this.kinds = Object.keys(rows) as Array<KindOf<T>>;
    const all = Object.entries(rows) as Array<[KindOf<T>, Row]>;
    for (const [kind, row] of all) {
      for (const answer of row.answers) {
        const back = (rows as Record<string, Row>)[answer];
        if (!Object.hasOwn(rows, answer) || !back) throw new Error(`channel kind ${kind} is answered by ${answer}, which is not a kind`);
        if (back.from !== receiverOf(row.from)) throw new Error(`channel kind ${kind} is answered by ${answer}, which does not go back the other way`);
      }
    }
    const receivedBy = (side: Side) => new Set(all.filter(([, row]) => row.from !== side).map(([kind]) => kind));
    this.receives = { inner: receivedBy('inner'), outer: receivedBy('outer') };
    const ajv = new Ajv({ allErrors: false, strict: true });
    for (const [kind, row] of all) this.validators.set(kind, ajv.compile(this.schemaOf(kind)));
  }

  // The JSON Schema a record of this kind is checked against.
  schemaOf(kind: KindOf<T>): object {
    return object({ k: string(), ...this.rows[kind].fields });
  }

  // The kinds whose handlers are on this side (what its peer sends one way).
  handledBy(side: Side): Array<KindOf<T>> {
    return this.kinds.filter((kind) => this.rows[kind].from === (side === 'inner' ? 'outer' : 'inner'));
  }

  // Throws RecordError on anything that is not exactly a declared record of a kind the
  // receiver may receive.
  check(value: unknown, receiver: Side): AnyRecordOf<T> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new RecordError('record is not an object');
    const kind = (value as { k?: unknown }).k;
    if (typeof kind !== 'string' || !this.validators.has(kind)) throw new RecordError(`unknown record kind ${JSON.stringify(kind)}`);
    if (!this.receives[receiver].has(kind as KindOf<T>)) throw new RecordError(`the ${receiver} side does not receive ${kind} records`);
    const validate = this.validators.get(kind)!;
    if (!validate(value)) {
      const e = validate.errors?.[0];
      throw new RecordError(`${kind} record invalid at ${e?.instancePath || '/'}: ${e?.message ?? 'invalid'}`);
    }
    return value as AnyRecordOf<T>;
  }

  // The compiler already refuses an incomplete map; this catches what it cannot see (a
  // map built at run time, a cast) before the first record, and names each kind.
  checkHandlers(side: Side, handlers: object): void {
    const missing = this.handledBy(side).filter((kind) => !Object.hasOwn(handlers, kind) || typeof (handlers as Record<string, unknown>)[kind] !== 'function');
    const handled = new Set<string>(this.handledBy(side));
    const stray = Object.keys(handlers).filter((kind) => !handled.has(kind));
    const problems = [
      ...(missing.length > 0 ? [`no handler for ${missing.join(', ')}`] : []),
      ...(stray.length > 0 ? [`a handler for ${stray.join(', ')}, which it does not receive`] : []),
    ];
    if (problems.length > 0) throw new Error(`the ${side} side's channel handlers are wrong: ${problems.join('; ')}`);
  }

  // One listener for a side's records: each goes to the handler of its kind. The map is
  // checked now, so that a kind without a handler stops the side at start.
  receiver<S extends Side>(side: S, handlers: Handlers<T, S>, onError?: (err: unknown, record: AnyRecordOf<T>) => void): (record: AnyRecordOf<T>) => void {
    this.checkHandlers(side, handlers);
    const table = handlers as unknown as Record<string, (record: AnyRecordOf<T>) => unknown>;
    return (record) => {
      // Only the connection's own kinds can get here without a handler, and it consumes them.
      if (!Object.hasOwn(table, record.k)) throw new RecordError(`the ${side} side has no handler for ${record.k} records`);
      const result = table[record.k]!(record);
      if (onError && result instanceof Promise) result.catch((err: unknown) => onError(err, record));
    };
  }
}

export function defineChannel<const T extends Rows<T>>(rows: T): ChannelTable<T> {
  return new ChannelTable(rows);
}

type Join<P extends readonly object[]> = P extends readonly [infer H, ...infer R extends readonly object[]] ? H & Join<R> : unknown;

// Several receivers on one side (payments and statements on the inner side) each give
// the handlers of their kinds; joined, they must make one complete map. A kind claimed
// twice is refused: one of the two would silently never run.
export function joinHandlers<const P extends readonly object[]>(...parts: P): Flat<Join<P>> {
  const joined: Record<string, unknown> = {};
  for (const part of parts) {
    for (const [kind, handler] of Object.entries(part)) {
      if (Object.hasOwn(joined, kind)) throw new Error(`two receivers handle ${kind} records`);
      joined[kind] = handler;
    }
  }
  return joined as Flat<Join<P>>;
}
