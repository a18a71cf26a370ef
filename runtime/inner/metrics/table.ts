// Every metric Ferry exposes, in one table: its name, type, help and labels. The inner
// side's registry (registry.ts) is built from it, everything that records or reads a
// metric names it from here, README.md's metric list is generated from it and a test
// keeps the two in step (test/internals/metrics-table.test.ts).
//
// `source` says where the figure comes from:
//   event:  counted as it happens on the inner side (mostly from committed audit entries)
//   state:  read at scrape time from the part that owns the state; never kept twice
//   outer:  the outer side's figure, from its last `metrics` channel record
//   process: the process itself, one series per side
//
// Label values are never a patient id, an order id or a device id or secret: they are
// roles, departments, sessions, message types, error codes and fixed enums.
export type MetricType = 'counter' | 'gauge' | 'histogram';
export type MetricSource = 'event' | 'state' | 'outer' | 'process';

export interface MetricRow {
  readonly type: MetricType;
  readonly help: string;
  readonly labels: readonly string[];
  readonly source: MetricSource;
}

export const METRICS = {
  // Devices and MQTT
  ferry_devices_connected: { type: 'gauge', source: 'state', labels: ['role'], help: 'Devices connected to the MQTT broker now, by role.' },
  ferry_mqtt_messages_received_total: { type: 'counter', source: 'event', labels: [], help: 'MQTT messages devices published to the gateway.' },
  ferry_mqtt_messages_sent_total: { type: 'counter', source: 'event', labels: [], help: 'MQTT messages the gateway published (answers, outbox deliveries, dispatches, slot pools).' },
  // The gap
  ferry_gap_accepted_total: { type: 'counter', source: 'event', labels: ['type'], help: 'Device messages the gap accepted, by message type.' },
  ferry_gap_refused_total: { type: 'counter', source: 'event', labels: ['type', 'code'], help: 'Device messages the gap refused, by message type (undeclared: a type not in the rules) and refusal code.' },
  // Payments
  ferry_payments_accepted_total: { type: 'counter', source: 'event', labels: ['method'], help: 'Payment orders opened, by method (code, qr).' },
  ferry_payments_total: { type: 'counter', source: 'event', labels: ['method', 'status'], help: 'Payment orders that reached a final status (succeeded, failed), by method.' },
  ferry_orders_open: { type: 'gauge', source: 'state', labels: [], help: 'Orders open in the journal (not final yet).' },
  ferry_orders_oldest_open_age_seconds: { type: 'gauge', source: 'state', labels: [], help: 'Age of the oldest order open in the journal (0 when none is open).' },
  ferry_refunds_total: { type: 'counter', source: 'event', labels: ['status'], help: 'Refunds requested, and refunds the payment server settled (succeeded, failed).' },
  // The outer side's figures, over the channel
  ferry_outer_up: { type: 'gauge', source: 'state', labels: [], help: '1 while the outer side is connected and its last metrics report is fresh; 0 otherwise (its other series are then absent).' },
  ferry_outer_report_age_seconds: { type: 'gauge', source: 'state', labels: [], help: 'Age of the outer side\'s last metrics report (absent before the first).' },
  ferry_payment_server_request_duration_seconds: { type: 'histogram', source: 'outer', labels: ['operation'], help: 'Duration of the outer side\'s calls to the payment server, by operation (payment, status, refund, statement).' },
  ferry_payment_server_errors_total: { type: 'counter', source: 'outer', labels: ['kind'], help: 'Calls to the payment server without a usable answer, by kind (timeout, network, server_error, refused, replayed, invalid).' },
  ferry_payment_server_breaker_state: { type: 'gauge', source: 'outer', labels: ['state'], help: 'The payment server circuit breaker: 1 for its current state (closed, open, half-open), 0 for the others.' },
  ferry_notifications_accepted_total: { type: 'counter', source: 'outer', labels: [], help: 'Signed payment notifications the outer side accepted and forwarded.' },
  ferry_notifications_refused_total: { type: 'counter', source: 'outer', labels: ['reason'], help: 'Requests the notification endpoint refused, by reason.' },
  // Registration and the medical information receivers
  ferry_slots_remaining: { type: 'gauge', source: 'state', labels: ['dept', 'session'], help: 'Slots still bookable today, by department and session.' },
  ferry_slots_receiver_reported_today: { type: 'gauge', source: 'state', labels: ['dept'], help: '1 when a receiver\'s slots.status for today was applied for the department, 0 when not yet.' },
  // Dispatch
  ferry_dispatch_backlog: { type: 'gauge', source: 'state', labels: ['dept'], help: 'Dispatched patient messages not yet acknowledged, by department.' },
  ferry_dispatch_redeliveries_total: { type: 'counter', source: 'event', labels: ['dept'], help: 'Dispatched messages sent again (backlog on subscribe, sweep), by department.' },
  // Store and audit
  ferry_audit_entries: { type: 'gauge', source: 'state', labels: [], help: 'Length of the audit chain (the last entry\'s sequence number).' },
  ferry_audit_verify_ok: { type: 'gauge', source: 'state', labels: [], help: 'Result of the last audit chain verification: 1 intact, 0 broken (absent before the first).' },
  ferry_audit_verify_timestamp_seconds: { type: 'gauge', source: 'state', labels: [], help: 'When the audit chain was last verified (Unix time).' },
  ferry_store_commit_duration_seconds: { type: 'histogram', source: 'event', labels: [], help: 'Time to write and fsync one group-commit batch.' },
  ferry_store_batch_writes: { type: 'histogram', source: 'event', labels: [], help: 'Keys written per group-commit batch.' },
  // The active/standby pair (docs/ha.md); absent on a single box (store.backend leveldb)
  ferry_ha_role: { type: 'gauge', source: 'state', labels: ['role'], help: 'The box\'s role in an active/standby pair: 1 for its current role (active, standby), 0 for the other.' },
  ferry_ha_epoch: { type: 'gauge', source: 'state', labels: [], help: 'The fencing epoch this box holds while active (0 on a standby and on a single box).' },
  // Rules
  ferry_rules_reloads_total: { type: 'counter', source: 'event', labels: ['result'], help: 'Rule reloads, by result (ok, refused: the running rules stayed).' },
  // Each process
  ferry_process_uptime_seconds: { type: 'gauge', source: 'process', labels: ['side'], help: 'Time since the side started (side: inner, outer).' },
  ferry_process_resident_memory_bytes: { type: 'gauge', source: 'process', labels: ['side'], help: 'Resident set size of the side\'s process.' },
  ferry_process_event_loop_lag_seconds: { type: 'gauge', source: 'process', labels: ['side'], help: 'Event-loop delay of the side\'s process (99th percentile since the previous reading).' },
} as const satisfies Record<string, MetricRow>;

export type MetricName = keyof typeof METRICS;
export type LabelsOf<N extends MetricName> = (typeof METRICS)[N]['labels'][number];
export const METRIC_NAMES = Object.keys(METRICS) as MetricName[];

// Buckets of the inner side's own histograms.
export const STORE_COMMIT_BUCKETS_SECONDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
export const STORE_BATCH_WRITES_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 250, 1000];

// A label value must look like a name from the rules or an enum: it can never carry
// free text a device sent. A value that does not is shown as `other`.
export const LABEL_VALUE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
