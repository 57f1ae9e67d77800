#!/usr/bin/env node
// The `wattmeter` command: finds the command, checks its flags, runs it. Each command is
// its own module under cli/, with its own help and flags; a new one is a row below.
import { WattmeterError, usageError } from './errors.js';
import { VERSION } from './version.js';
import { SAMPLER_HELP, SHARED_FLAGS, commandFlags, commandHelp, type Command } from './cli/command.js';
import { checkFlags, nearest, readCommandLine, type FlagSpecs } from './cli/flags.js';
import { domainsCommand } from './cli/domains.js';
import { readCommand } from './cli/read.js';
import { sampleCommand } from './cli/sample.js';
import { benchCommand } from './cli/bench.js';
import { exportCommand } from './cli/export.js';
import { doctorCommand } from './cli/doctor.js';
import { topCommand } from './cli/top.js';
import { serveCommand } from './cli/serve.js';

const COMMAND_TABLE: Record<string, Command> = {
  serve: serveCommand,
  domains: domainsCommand,
  read: readCommand,
  sample: sampleCommand,
  bench: benchCommand,
  export: exportCommand,
  top: topCommand,
  doctor: doctorCommand,
};

const USAGE = `Usage: wattmeter <command> [options]

Commands:
${Object.values(COMMAND_TABLE)
  .map((command) => `  ${command.summary}\n`)
  .join('')}
${SAMPLER_HELP}  --version
Run \`wattmeter <command> --help\` for a command's own options.
`;

/** The flags of every command, so that each value goes with its flag whatever the command. */
const ALL_FLAGS: FlagSpecs = Object.assign({ version: { type: 'boolean' } }, SHARED_FLAGS, ...Object.values(COMMAND_TABLE).map((c) => c.flags));

export async function main(argv: string[]): Promise<number> {
  const line = readCommandLine(argv, ALL_FLAGS);
  const { name, args, flags } = line;
  if (name === 'help' && args.length > 0) return main([args[0], '--help']);
  if (name === undefined || name === 'help') {
    checkFlags(line, { ...SHARED_FLAGS, version: { type: 'boolean' } }, '');
    if (flags.version) console.log(VERSION);
    else if (flags.help || name === 'help') process.stdout.write(USAGE);
    else throw usageError(`No command given.\n${USAGE}`);
    return 0;
  }
  const command = Object.hasOwn(COMMAND_TABLE, name) ? COMMAND_TABLE[name] : undefined;
  if (!command) {
    const guess = nearest(name, Object.keys(COMMAND_TABLE));
    throw usageError(`Unknown command "${name}"${guess ? `; did you mean ${guess}?` : '.'} Commands: ${Object.keys(COMMAND_TABLE).join(', ')}.`);
  }
  checkFlags(line, commandFlags(command), name);
  if (flags.help) {
    process.stdout.write(commandHelp(command));
    return 0;
  }
  if (args.length > (command.args ?? 0)) {
    throw usageError(`Unexpected argument "${args[command.args ?? 0]}". Run \`wattmeter ${name} --help\` for usage.`);
  }
  await command.run(flags, args);
  return 0;
}

process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0); // `wattmeter sample | head` is fine
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof WattmeterError) {
      process.stderr.write(`wattmeter: ${error.message}\n`);
      process.exitCode = error.exitCode;
    } else {
      console.error(error);
      process.exitCode = 1;
    }
  },
);
