// `wattmeter domains`: the energy domains found, with their source and file.
import { listDomains } from '../domains.js';
import { printTable, samplerOptions, switchUser, warn, type Command } from './command.js';

export const domainsCommand: Command = {
  summary: 'domains [--json]                 the energy domains found, with source and path',
  usage: `Usage: wattmeter domains [--json] [options]

Lists the energy domains the chosen source offers on this machine: name, source, the
energy at which its counter wraps (the model's never does), and the file it reads.

  --json                             as JSON: {source, domains, warnings}
`,
  flags: { json: { type: 'boolean' } },
  run(flags) {
    const options = samplerOptions(flags);
    const found = listDomains(options);
    switchUser(options);
    warn(found.warnings);
    if (flags.json) return console.log(JSON.stringify(found, null, 2));
    printTable([
      ['DOMAIN', 'SOURCE', 'WRAPS AT (J)', 'PATH'],
      ...found.domains.map((d) => [d.name, d.source, d.maxEnergyRangeUj > 0 ? (d.maxEnergyRangeUj / 1e6).toFixed(0) : 'never', d.path]),
    ]);
  },
};
