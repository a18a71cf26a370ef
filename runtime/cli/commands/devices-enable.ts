import { enableDevice } from '../../rules/devices-file.js';
import { type Command } from '../command.js';
import { DEFAULT_PATHS } from '../../common/default-paths.js';
import { APPLY_HELP, DEVICE_CONNECTION_HELP, FILE_EDIT_HELP } from '../running-gateway.js';
import { runDeviceChange } from '../device-change.js';

const HELP = `Usage: ferry devices enable ID [options]

The reverse of \`ferry devices disable\`: removes \`disabled\` from device ID in
DIR/devices.yaml (DIR defaults to ${DEFAULT_PATHS.rules}), so that the device may log in again with
the credential it had. Enabling a device that is enabled changes nothing and succeeds.
${FILE_EDIT_HELP}

${APPLY_HELP}

Options:
${DEVICE_CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 enabled (and applied, or the gateway is not running), 1 no such device,
the rules do not load, or the running gateway did not apply the change, 2 the command
line is wrong.
`;

export const command: Command = {
  name: 'devices enable',
  summary: 'let a disabled device log in again',
  help: HELP,
  run: (args) => runDeviceChange('enable', args, HELP, async (dir, id) => {
    await enableDevice(dir, id);
    return { stdout: `device ${id} enabled\n` };
  }),
};
