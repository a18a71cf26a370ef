import { rotateDevice } from '../../rules/devices-file.js';
import { type Command } from '../command.js';
import { APPLY_HELP, DEVICE_CONNECTION_HELP, FILE_EDIT_HELP } from '../running-gateway.js';
import { runDeviceChange } from '../device-change.js';

const HELP = `Usage: ferry devices rotate ID [options]

Gives device ID a new, randomly generated password and prints it on stdout, alone on
one line, so that it can be piped into the device's configuration:

  ferry devices rotate kiosk-03 > kiosk-03.password

Only its scrypt hash is written to devices.yaml (as \`ferry devices add\` does); the
password itself is shown only this once. From the next CONNECT the old password is
refused (MQTT return code 4, bad user name or password), and the device's live session,
which logged in with the old one, is dropped at once: the device must reconnect with
the new password. A device that logs in with a TLS client certificate has no password
to rotate: remove it and add it again with its new certificate's fingerprint.

${FILE_EDIT_HELP}

${APPLY_HELP}

Options:
${DEVICE_CONNECTION_HELP}
  -h, --help         this text

Exit status: 0 rotated (and applied, or the gateway is not running), 1 no such device,
a certificate device, the rules do not load, or the running gateway did not apply the
change (the new password is then in the file: keep it), 2 the command line is wrong.
`;

export const command: Command = {
  name: 'devices rotate',
  summary: "replace a device's password and print the new one",
  help: HELP,
  run: (args) => runDeviceChange('rotate', args, HELP, async (dir, id) => ({ stdout: `${await rotateDevice(dir, id)}\n` })),
};
