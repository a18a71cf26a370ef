// The PostgreSQL backend's schema, in one place: the key-value table the store lives in
// and the fencing row of the active/standby pair. Every gateway sharing a database runs
// ensureSchema on first open (the writable ones); it is idempotent and safe to race.
import type pg from 'pg';

export const KV_TABLE = 'ferry_kv';
export const LEADER_TABLE = 'ferry_leader';
// The one row of LEADER_TABLE.
export const LEADER_ROW_ID = 1;
// The transaction-level advisory lock ensureSchema holds, so that two boxes starting at
// once do not race their CREATEs. A leadership lock must use another key.
export const SCHEMA_LOCK_KEY = 0x66657272; // "ferr"

// COLLATE "C" compares keys by their bytes (UTF-8 in a UTF8 database), which is the
// order LevelDB keeps keys in; the store's listings and cursors rely on it.
const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS ${KV_TABLE} (key text COLLATE "C" PRIMARY KEY, value text NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${LEADER_TABLE} (id int PRIMARY KEY CHECK (id = ${LEADER_ROW_ID}), epoch bigint NOT NULL, holder text, since timestamptz)`,
  `INSERT INTO ${LEADER_TABLE} (id, epoch, holder, since) VALUES (${LEADER_ROW_ID}, 0, NULL, NULL) ON CONFLICT (id) DO NOTHING`,
];

// Anything that runs queries: a pg.Client, a pooled client.
export type Queryable = Pick<pg.ClientBase, 'query'>;

export async function ensureSchema(client: Queryable): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [SCHEMA_LOCK_KEY]);
    for (const sql of STATEMENTS) await client.query(sql);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}

// Whether the store's table exists (a read-only open refuses a database without one).
export async function hasSchema(client: Queryable): Promise<boolean> {
  const { rows } = await client.query<{ kv: string | null; leader: string | null }>(
    'SELECT to_regclass($1)::text AS kv, to_regclass($2)::text AS leader', [KV_TABLE, LEADER_TABLE]);
  return rows[0]?.kv != null && rows[0]?.leader != null;
}

// The epoch the database names now (a bigint as a decimal string).
export async function currentEpoch(client: Queryable): Promise<string> {
  const { rows } = await client.query<{ epoch: string }>(`SELECT epoch::text AS epoch FROM ${LEADER_TABLE} WHERE id = ${LEADER_ROW_ID}`);
  const epoch = rows[0]?.epoch;
  if (epoch === undefined) throw new Error(`${LEADER_TABLE} has no row ${LEADER_ROW_ID}; run ensureSchema`);
  return epoch;
}

// One batch of the store in one statement, so in one transaction and one round trip:
// the fence is read FOR SHARE first (an epoch bump waits for this write, and a write
// that comes after a bump sees the new epoch), and the deletes and upserts happen only
// if the epoch is $1's (or $1 is null: no fencing). The caller compares the epoch it
// returns with its own. Keys are distinct across $2 and $3 (the batch's final state).
export const WRITE_BATCH_SQL = `WITH fence AS (SELECT epoch FROM ${LEADER_TABLE} WHERE id = ${LEADER_ROW_ID} FOR SHARE),
  allowed AS (SELECT $1::bigint IS NULL OR $1::bigint = (SELECT epoch FROM fence) AS ok),
  gone AS (DELETE FROM ${KV_TABLE} WHERE key = ANY($2::text[]) AND (SELECT ok FROM allowed)),
  kept AS (INSERT INTO ${KV_TABLE} (key, value) SELECT k, v FROM unnest($3::text[], $4::text[]) AS t(k, v) WHERE (SELECT ok FROM allowed)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value)
SELECT (SELECT epoch::text FROM fence) AS epoch, (SELECT ok FROM allowed) AS ok`;
