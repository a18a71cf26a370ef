// `ferry sim kiosk patient-info`: the kiosk action that sends what a patient entered
// (patient.info) and prints where the gateway dispatched it; runtime/cli/commands/
// sim-kiosk.ts lists it among its actions.
import type { DeviceClient } from '../../devices/client.js';
import { isErrorReply } from '../../devices/client.js';
import type { DispatchQueuedBody, PatientInfoBody, Vitals } from '../../devices/protocol.js';
import { EXIT_FAILURE, EXIT_OK } from '../../runtime/cli/command.js';
import { UsageError, describeError, printJson, printLine } from './cli-support.js';

export const PATIENT_INFO_HELP = `  patient-info --symptoms TEXT [--dept D] [--registration R] [--patient P]
               [--temp C] [--pulse BPM] [--bp SYS/DIA]
      sends what the patient entered; the gateway dispatches it to the booking's
      department (--registration), else to --dept, else by the triage rules, and
      answers with the department, sequence number and priority`;

export const PATIENT_INFO_OPTIONS = {
  symptoms: { type: 'string' },
  dept: { type: 'string' },
  registration: { type: 'string' },
  temp: { type: 'string' },
  pulse: { type: 'string' },
  bp: { type: 'string' },
} as const;

export interface PatientInfoValues {
  symptoms?: string | undefined;
  dept?: string | undefined;
  registration?: string | undefined;
  patient?: string | undefined;
  temp?: string | undefined;
  pulse?: string | undefined;
  bp?: string | undefined;
  json?: boolean | undefined;
  'timeout-ms'?: string | undefined;
}

export function patientInfoBody(values: PatientInfoValues): PatientInfoBody {
  if (!values.symptoms) throw new UsageError('--symptoms is required');
  const vitals: Vitals = {};
  if (values.temp !== undefined) vitals.temperatureC = number(values.temp, '--temp');
  if (values.pulse !== undefined) vitals.pulseBpm = number(values.pulse, '--pulse');
  if (values.bp !== undefined) {
    const m = /^([0-9]+)\/([0-9]+)$/.exec(values.bp);
    if (!m) throw new UsageError('--bp is SYSTOLIC/DIASTOLIC, like 120/80');
    vitals.systolicMmHg = Number(m[1]);
    vitals.diastolicMmHg = Number(m[2]);
  }
  return {
    symptoms: values.symptoms,
    ...(Object.keys(vitals).length > 0 ? { vitals } : {}),
    ...(values.registration !== undefined ? { registrationId: values.registration } : {}),
    ...(values.dept !== undefined ? { dept: values.dept } : {}),
    ...(values.patient !== undefined ? { patientId: values.patient } : {}),
  };
}

export async function sendPatientInfo(client: DeviceClient, values: PatientInfoValues): Promise<number> {
  const reply = await client.request('patient.info', patientInfoBody(values), { timeoutMs: Number(values['timeout-ms'] ?? 15000) });
  if (values.json) printJson(reply);
  if (isErrorReply(reply)) {
    if (!values.json) process.stderr.write(`ferry sim kiosk: ${describeError(reply)}\n`);
    return EXIT_FAILURE;
  }
  const q = reply.body as unknown as DispatchQueuedBody;
  if (!values.json) {
    const why = q.routedBy === 'triage' ? `triage rule ${q.rule}` : q.routedBy;
    printLine(`dispatched ${q.dispatchId} to ${q.dept} as #${q.seq}, priority ${q.priority} (by ${why})`);
  }
  return EXIT_OK;
}

function number(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isFinite(n)) throw new UsageError(`${name} must be a number, not ${JSON.stringify(text)}`);
  return n;
}
