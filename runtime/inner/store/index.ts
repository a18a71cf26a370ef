// The inner side's store: one LevelDB with group-committed transactions and the
// hash-chained audit log.
export { Store, verifyAudit, type StoreBackend, type StoreOptions, type Tx, type AuditEvent, type AuditEntry, type AuditVerdict, type ListOptions } from './store.js';
export { CHECKPOINT_KIND, CHECKPOINT_POINTER_KEY, GENESIS_PREV, type AuditHead } from './audit.js';
export { StoreError, type StoreErrorCode } from './errors.js';
export { auditKey } from './keys.js';
export * from './limits.js';
export type { StoreEngine, EngineSnapshot, EntryIterator, Entry, KeyRange, BatchOp } from './engine.js';
