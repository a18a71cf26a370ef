import { disableDevice } from '../../rules/devices-file.js';
import { type Command } from '../command.js';
import { APPLY_HELP, DEVICE_CONNECTION_HELP, FILE_EDIT_HELP } from '../running-gateway.js';
import { runDeviceChange } from '../device-change.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';

const HELP = `Usage: ferry devices disable ID [options]

Sets \`disabled: true\` on device ID in DIR/devices.yaml (DIR defaults to ${DEFAULT_PATHS.rules}).
A disabled device is refused at CONNECT (MQTT return code 5, not authorized), and its
live session is dropped. The entry stays in the file so that its id is not reused and
the audit log still names it; \`ferry devices enable ID\` takes it back.

Disabling a device that is already disabled changes nothing and succeeds.
${FILE_EDIT_HELP}

${APPLY_HELP}

Options:
${DEVICE_CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 disabled (and applied, or the gateway is not running), 1 no such device,
the rules do not load, or the running gateway did not apply the change (the message
says which), 2 the command line is wrong.
`;

export const command: Command = {
  name: 'devices disable',
  summary: 'refuse a device from now on (it stays listed in devices.yaml)',
  help: HELP,
  run: (args) => runDeviceChange('disable', args, HELP, async (dir, id) => {
    await disableDevice(dir, id);
    return { stdout: `device ${id} disabled\n` };
  }),
};
