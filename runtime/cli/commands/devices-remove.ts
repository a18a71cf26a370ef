import { removeDevice } from '../../rules/devices-file.js';
import { type Command } from '../command.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';
import { APPLY_HELP, DEVICE_CONNECTION_HELP, FILE_EDIT_HELP } from '../running-gateway.js';
import { runDeviceChange } from '../device-change.js';

const HELP = `Usage: ferry devices remove ID [options]

Deletes device ID from DIR/devices.yaml (DIR defaults to ${DEFAULT_PATHS.rules}). From then on the
device is refused at CONNECT (MQTT return code 5, not authorized), and its live session
is dropped.

Its history stays: the audit log (\`ferry audit verify\`, \`ferry query audit\`) keeps
every entry that names the device, chained and unchanged, until retention prunes it
with the rest of its day (gateway.yaml retention.auditDays); bills, payments and
messages it made stay too. To keep the id from being reused by a new device, prefer
\`ferry devices disable\`, which leaves the entry in the file.

${FILE_EDIT_HELP}

${APPLY_HELP}

Options:
${DEVICE_CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 removed (and applied, or the gateway is not running), 1 no such device,
the rules do not load, or the running gateway did not apply the change, 2 the command
line is wrong.
`;

export const command: Command = {
  name: 'devices remove',
  summary: 'delete a device from devices.yaml (its audit history stays)',
  help: HELP,
  run: (args) => runDeviceChange('remove', args, HELP, async (dir, id) => {
    await removeDevice(dir, id);
    return { stdout: `device ${id} removed\n` };
  }),
};
