// Builders of the JSON Schemas that channel records are checked against. Each returns a
// plain JSON Schema object (what ajv compiles) typed with the value it admits, so that a
// record kind's TypeScript type is read off its schema instead of being declared twice.
// Only the few keywords the channel uses are here; nothing else can be expressed.

declare const ADMITS: unique symbol;
// The phantom field is never present at run time: only these builders make a Schema.
export interface Schema<T> { readonly [ADMITS]: T }

const OPTIONAL = Symbol('optional');
export interface Optional<T> { readonly [OPTIONAL]: Schema<T> }

export type Admitted<S> = S extends Optional<infer T> ? T : S extends Schema<infer T> ? T : never;

export type Fields = Record<string, Schema<unknown> | Optional<unknown>>;
type RequiredKeys<F> = { [K in keyof F]: F[K] extends Optional<unknown> ? never : K }[keyof F];
type Flat<T> = { [K in keyof T]: T[K] } & {};
export type ObjectOf<F extends Fields> = Flat<
  { -readonly [K in RequiredKeys<F>]: Admitted<F[K]> } & { -readonly [K in Exclude<keyof F, RequiredKeys<F>>]?: Admitted<F[K]> }
>;

function schema<T>(json: object): Schema<T> {
  return json as Schema<T>;
}

export function string(o: { pattern?: string; maxLength?: number } = {}): Schema<string> {
  return schema({ type: 'string', ...o });
}

export function integer(o: { minimum?: number; maximum?: number } = {}): Schema<number> {
  return schema({ type: 'integer', ...o });
}

// A finite number (JSON has no NaN or Infinity): a duration in seconds, a sum.
export function number(o: { minimum?: number; maximum?: number } = {}): Schema<number> {
  return schema({ type: 'number', ...o });
}

export function boolean(): Schema<boolean> {
  return schema({ type: 'boolean' });
}

export function constant<const T extends string>(value: T): Schema<T> {
  return schema({ const: value });
}

export function oneOf<const T extends readonly string[]>(...values: T): Schema<T[number]> {
  return schema({ enum: [...values] });
}

export function array<T>(items: Schema<T>, o: { maxItems: number; minItems?: number }): Schema<T[]> {
  return schema({ type: 'array', maxItems: o.maxItems, ...(o.minItems !== undefined ? { minItems: o.minItems } : {}), items });
}

// A field that may be left out; every other field of an object is required.
export function optional<T>(field: Schema<T>): Optional<T> {
  return { [OPTIONAL]: field };
}

// A closed object: a field not declared here makes the value invalid.
export function object<F extends Fields>(fields: F): Schema<ObjectOf<F>> {
  const required: string[] = [];
  const properties: Record<string, unknown> = {};
  for (const [name, field] of Object.entries(fields)) {
    if (OPTIONAL in field) {
      properties[name] = field[OPTIONAL];
    } else {
      properties[name] = field;
      required.push(name);
    }
  }
  return schema({ type: 'object', additionalProperties: false, required, properties });
}

// A closed object whose field names are exactly `names` (an enum), each holding `field`:
// figures by a label value, where only the declared values can appear.
export function byName<const N extends readonly string[], T>(names: N, field: Schema<T>): Schema<{ [K in N[number]]: T }> {
  return object(Object.fromEntries(names.map((name) => [name, field]))) as unknown as Schema<{ [K in N[number]]: T }>;
}
