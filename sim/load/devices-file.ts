// `--devices-file` for `ferry sim load` against a gateway that is already running: one
// device a line, `id:password`; blank lines and lines starting with # are skipped.
// Make one with `ferry devices add` (it prints the new password alone on stdout):
//   for i in $(seq -w 1 100); do echo "kiosk-l$i:$(ferry devices add kiosk-l$i --role kiosk)"; done > devices.txt
import fs from 'node:fs';

export interface Credential {
  id: string;
  password: string;
}

export function parseDevicesFile(text: string, file = 'devices file'): Credential[] {
  const out: Credential[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0 || colon === line.length - 1) throw new Error(`${file}:${i + 1}: expected id:password`);
    const id = line.slice(0, colon);
    if (seen.has(id)) throw new Error(`${file}:${i + 1}: device ${id} is listed twice`);
    seen.add(id);
    out.push({ id, password: line.slice(colon + 1) });
  });
  return out;
}

export function readDevicesFile(file: string): Credential[] {
  return parseDevicesFile(fs.readFileSync(file, 'utf8'), file);
}
