// The leader row the boxes of a pair contend for, in the database their store shares:
// ferry_leader (id 1) holds the epoch, the fencing token that every write of the store
// checks (runtime/inner/store/postgres/). Stands in for the PostgreSQL store's own
// schema until that lands; the DDL is the same.
import type pg from 'pg';

export const LEADER_TABLE = 'ferry_leader';

export async function ensureLeaderTable(client: pg.ClientBase): Promise<void> {
  await client.query(`CREATE TABLE IF NOT EXISTS ${LEADER_TABLE} (
    id int PRIMARY KEY CHECK (id = 1),
    epoch bigint NOT NULL,
    holder text,
    since timestamptz
  )`);
  await client.query(`INSERT INTO ${LEADER_TABLE} (id, epoch, holder, since) VALUES (1, 0, NULL, NULL) ON CONFLICT (id) DO NOTHING`);
}
