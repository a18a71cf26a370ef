// The shape of the rule files once loaded and checked (see runtime/rules/load.ts).
// Everything here is frozen after loading: a running gateway never edits its rules,
// it reloads them whole or not at all.

import type { TriageRules } from './triage.js';

export type Role = 'kiosk' | 'registration_desk' | 'billing_desk' | 'receiver' | 'workstation';
export const ROLES: readonly Role[] = ['kiosk', 'registration_desk', 'billing_desk', 'receiver', 'workstation'];

export interface TlsListen {
  port: number;
  cert: string; // PEM file paths, relative to the rules directory
  key: string;
  ca?: string;
  requireClientCert: boolean;
}

// PEM file paths, relative to the rules directory. cert and key come together (mutual
// TLS); ca replaces the system's CAs for checking the payment server.
export interface PaymentTls {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface GatewayConfig {
  timeZone: string; // IANA zone of the hospital: every day the gateway counts is a day there
  mqtt: { host: string; port: number; tls?: TlsListen };
  channel: { socket: string }; // relative paths are taken from the data directory
  payment: {
    url: string | null; // null: `ferry start` runs the embedded payment-server simulator
    secret: string; // HMAC key shared with the payment server (from secret or secretFile)
    timeoutMs: number;
    simulatorHost: string;
    simulatorPort: number;
    tls?: PaymentTls; // toward an https payment server: its CA, and our client certificate
  };
  notify: { host: string; port: number; toleranceSec: number };
  limits: { maxPayloadBytes: number; replyWaitMs: number };
  log: { level: string };
  // The inner side's read-only query API; null when gateway.yaml has no management section.
  management: ManagementConfig | null;
  retention: RetentionConfig;
  store: StoreConfig;
}

// Where the inner side keeps its store: LevelDB in the data directory, or a PostgreSQL
// database whose connection string is in urlFile (an absolute path once loaded). Only
// the inner side reads the file: the outer side never sees the database's credentials.
export type StoreConfig = { backend: 'leveldb' } | { backend: 'postgres'; postgres: { urlFile: string } };

export interface ManagementConfig {
  host: string;
  port: number;
  token: string; // reads, always masked (from token or tokenFile)
  adminToken: string; // reads that may be unmasked, retention runs (from adminToken or adminTokenFile)
}

// How long closed items are kept, in days; open items are never pruned.
export interface RetentionConfig {
  paymentsDays: number;
  billsDays: number;
  registrationsDays: number;
  dispatchesDays: number;
  idempotencyDays: number;
  auditDays: number;
}

export interface DeviceRule {
  id: string;
  role: Role;
  dept?: string;
  password?: string; // scrypt$N$r$p$salt$hash (runtime/rules/password.ts)
  certFingerprint?: string; // sha256 of the DER client certificate, hex with colons
  disabled: boolean;
}

export interface RoleRule {
  name: Role;
  // Topic filters the role may subscribe to besides its own dev/{id}/down;
  // `{id}` and `{dept}` are replaced by the device's own values.
  subscribe: string[];
}

export interface MessageRule {
  type: string;
  roles: Role[];
  maxBytes: number;
  rate: { perMinute: number; burst: number };
  schema: object; // JSON Schema of the envelope's body
}

export interface SessionRule {
  name: string; // e.g. morning
  startMinute: number; // minutes after local midnight (gateway.yaml timeZone)
  endMinute: number;
}

export interface DepartmentRule {
  code: string;
  name: string;
  fees: Record<string, number>; // fen per doctor level; `regular` always present
  capacity: Record<string, number>; // default capacity per session name
  // The first visit number the gateway gives per session; the numbers below are the window's.
  gatewayNumbers: Record<string, number>;
}

export interface DepartmentsRule {
  holdTtlSeconds: number;
  paymentGraceSeconds: number;
  bookAheadDays: number;
  sessions: readonly SessionRule[]; // in the order of the day
  departments: ReadonlyMap<string, DepartmentRule>;
}

export interface Rules {
  dir: string;
  departments: DepartmentsRule;
  triage: TriageRules; // triage.yaml: routing of patient.info, redelivery of dispatches
  gateway: GatewayConfig;
  devices: ReadonlyMap<string, DeviceRule>;
  roles: ReadonlyMap<Role, RoleRule>;
  messages: ReadonlyMap<string, MessageRule>;
}

export interface RuleProblem {
  file: string; // path relative to the rules directory
  line: number; // 1-based; 0 when the problem is the file as a whole
  column: number;
  message: string;
}

export class RulesError extends Error {
  readonly problems: RuleProblem[];
  constructor(problems: RuleProblem[]) {
    super(problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`).join('\n'));
    this.problems = problems;
  }
}
