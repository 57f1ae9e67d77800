// `wattmeter read`: one reading of every counter, as the hardware shows it.
import { readOnce } from '../domains.js';
import { printTable, samplerOptions, switchUser, warn, type Command } from './command.js';

export const readCommand: Command = {
  summary: 'read [--json]                    one reading of every counter, in joules',
  usage: `Usage: wattmeter read [--json] [options]

Reads every domain's counter once, as the hardware shows it (not wrap-corrected).

  --json                             as JSON: {source, timestampMs, domains, warnings}
`,
  flags: { json: { type: 'boolean' } },
  run(flags) {
    const options = samplerOptions(flags);
    const reading = readOnce(options);
    switchUser(options);
    warn(reading.warnings);
    if (flags.json) {
      const domains = reading.domains.map(({ name, source, path, energyJoules, energyUj, maxEnergyRangeUj }) => ({
        name,
        source,
        path,
        energyJoules,
        energyUj,
        maxEnergyRangeUj,
      }));
      const { source, timestampMs, warnings } = reading;
      return console.log(JSON.stringify({ source, timestampMs, domains, warnings }, null, 2));
    }
    printTable([
      ['DOMAIN', 'ENERGY (J)', 'SOURCE', 'PATH'],
      ...reading.domains.map((d) => [d.name, d.energyJoules.toFixed(6), d.source, d.path]),
    ]);
  },
};
