// The gateway as real child processes, for the tests that kill one side: the runner in
// sim/gateway-processes.ts with the example rules by default.
import { ProcessGateway as Runner, freePort, type ProcessGatewayOptions } from '../../sim/gateway-processes.js';
import { EXAMPLE_RULES } from './gateway.js';

export { freePort };

export const ProcessGateway = {
  create(opts: Omit<ProcessGatewayOptions, 'rulesDir'> & { rulesDir?: string }): Promise<Runner> {
    return Runner.create({ ...opts, rulesDir: opts.rulesDir ?? EXAMPLE_RULES });
  },
};
