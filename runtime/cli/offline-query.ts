// `ferry query --data DIR`: the query side run on a stopped gateway's store (a copy for
// an investigation, a backup, a failed box), with the same filters, paging and masking
// as the management API. The store is opened read-only: nothing is written to it, not
// even the audit entry an unmasked query gets online.
import path from 'node:path';
import { createLogger } from '../common/logger.js';
import { HospitalDay, isTimeZone, TIME_ZONE_DEFAULT } from '../common/hospital-day.js';
import { Store, type StoreBackend } from '../inner/store/store.js';
import { configuredBackend } from '../inner/store/configured.js';
import { storeConfigOf } from '../rules/gateway-config.js';
import { RulesError } from '../rules/types.js';
import { formatProblems } from '../rules/report.js';
import { queryFiltersOf, queryPage, type QueryPage } from '../inner/management/query.js';
import type { QueryKindName } from '../inner/management/columns.js';
import { readYaml } from '../rules/yaml-source.js';
import { RULE_FILES } from '../rules/defaults.js';
import type { RuleProblem } from '../rules/types.js';

export class OfflineError extends Error {}

export interface OfflineQuery {
  timeZone: string;
  page(kind: QueryKindName, params: URLSearchParams): Promise<QueryPage>;
  close(): Promise<void>;
}

// On the PostgreSQL backend `backend` names the database, which is read whether the
// gateway runs or not; dataDir is then unused.
export async function openOfflineQuery(dataDir: string, timeZone: string, backend?: StoreBackend): Promise<OfflineQuery> {
  let store: Store;
  try {
    store = await Store.open(dataDir, createLogger('query', 'silent'), { readOnly: true, ...(backend ? { backend } : {}) });
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'STORE_LOCKED') throw new OfflineError(`${dataDir} is in use by a running gateway; query it through the management API instead, or stop it first`);
    if (code === 'STORE_MISSING') throw new OfflineError(`${dataDir} holds no gateway store (${(err as Error).message})`);
    throw err;
  }
  const day = new HospitalDay(timeZone);
  return {
    timeZone,
    page(kind, params) {
      const cursor = params.get('cursor');
      return queryPage(store, day, {
        kind, filters: queryFiltersOf(params), limit: Number(params.get('limit')),
        unmask: params.get('unmask') === '1', ...(cursor !== null ? { cursor } : {}),
      });
    },
    close: () => store.close(),
  };
}

// The store gateway.yaml under rulesDir names (LevelDB without a gateway.yaml there),
// for the commands that read a stopped gateway's store.
export async function offlineBackend(rulesDir: string): Promise<StoreBackend> {
  try {
    return await configuredBackend(storeConfigOf(rulesDir));
  } catch (err) {
    if (err instanceof RulesError) throw new OfflineError(`the rules under ${rulesDir} do not load:\n${formatProblems(path.resolve(rulesDir), err).trimEnd()}`);
    throw new OfflineError((err as Error).message);
  }
}

// The hospital's zone for an offline query: --time-zone, else gateway.yaml's timeZone
// under the rules directory, else the default (with a note, since a copied data
// directory often comes without its rules).
export function offlineTimeZone(given: string | undefined, rulesDir: string, note: (text: string) => void): string {
  if (given !== undefined) {
    if (!isTimeZone(given)) throw new OfflineError(`--time-zone ${given} is not an IANA time zone`);
    return given;
  }
  const problems: RuleProblem[] = [];
  const src = readYaml(path.resolve(rulesDir), RULE_FILES.gateway, problems);
  if (!src) {
    note(`no readable ${RULE_FILES.gateway} under ${rulesDir}: days are taken in ${TIME_ZONE_DEFAULT} (give --time-zone or --rules)`);
    return TIME_ZONE_DEFAULT;
  }
  const zone = (src.data as { timeZone?: unknown } | null)?.timeZone ?? TIME_ZONE_DEFAULT;
  if (typeof zone !== 'string' || !isTimeZone(zone)) throw new OfflineError(`${rulesDir}/${RULE_FILES.gateway}: timeZone ${JSON.stringify(zone)} is not an IANA time zone`);
  return zone;
}
