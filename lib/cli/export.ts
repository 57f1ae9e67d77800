// `wattmeter export simple|multirate|remote-write`: the exporters as an operator runs them,
// every setting a flag or an environment variable. When WATTMETER_USER is set, the
// counters are opened and the port bound as root first, then the process switches user,
// so a port below 1024 works too. Remote write binds nothing: it switches before starting,
// so the files of its disk queue belong to the user that keeps writing them.
import { nameOptions, optionNames, type SamplerOptions } from '../options.js';
import { openSampler, type Sampler } from '../sampler.js';
import { dropPrivileges } from '../privileges.js';
import { usageError } from '../errors.js';
import { flagAndEnvNames, flagNames, parseArgsOptions, textsFromEnv, textsFromFlags, usageLines } from '../option-table.js';
import { durationS, samplerOptions, waitUntilStopped, warn, type Command, type Flags } from './command.js';
import type { AttributionExportOptions } from '../exporters/attribution.js';
import { startSimpleExporter } from '../exporters/simple.js';
import { startMultirateExporter } from '../exporters/multirate.js';
import { startRemoteWriteExporter } from '../exporters/remote-write.js';
import { DEFAULT_PORTS, EXPORTER_OPTIONS, attributionOptions, multirateOptions, remoteWriteOptions, serverOptions, type ExporterSettings } from '../exporters/env.js';

export const EXPORTERS = ['simple', 'multirate', 'remote-write'] as const;
export type ExporterKind = (typeof EXPORTERS)[number];

export const exportCommand: Command = {
  summary: `export ${EXPORTERS.join('|')} [--host A] [--port P] ...
                                   run a Prometheus exporter until stopped`,
  usage: `Usage: wattmeter export ${EXPORTERS.join('|')} [options]

Runs one of the three Prometheus exporters until SIGINT or SIGTERM:
  simple        one value per series per scrape (GET /metrics)
  multirate     every sample of the last window, timestamped, to every scrape
  remote-write  every sample pushed to a remote-write receiver (--url)

Exporter options (each also an environment variable):
${usageLines(EXPORTER_OPTIONS).join('\n')}
  (no flag, environment only, as a command line is visible to every user:
   WATTMETER_REMOTE_WRITE_BEARER_TOKEN, or _USERNAME and _PASSWORD)
  --duration S                       stop after S seconds (default: run until stopped)
`,
  flags: { ...parseArgsOptions(EXPORTER_OPTIONS), duration: { type: 'string' } },
  args: 1,
  run: fromCommandLine,
};

async function fromCommandLine(flags: Flags, [name]: string[]): Promise<void> {
  const kind = exporterKind(name);
  const flagged = textsFromFlags(EXPORTER_OPTIONS, flags);
  const foreign = (Object.keys(flagged) as (keyof typeof EXPORTER_OPTIONS)[]).find((key) => !EXPORTER_FLAGS[kind].includes(key));
  if (foreign) {
    throw usageError(`${flagNames(EXPORTER_OPTIONS)[foreign]} is not an option of \`wattmeter export ${kind}\`. Run \`wattmeter export --help\` for usage.`);
  }
  const settings = { texts: { ...textsFromEnv(EXPORTER_OPTIONS, process.env), ...flagged }, names: flagAndEnvNames(EXPORTER_OPTIONS) };
  await runExporter(kind, samplerOptions(flags), settings, durationS(flags, Infinity), warn);
}

export function exporterKind(name: string | undefined): ExporterKind {
  if ((EXPORTERS as readonly (string | undefined)[]).includes(name)) return name as ExporterKind;
  throw usageError(
    name === undefined
      ? `Which exporter? wattmeter export ${EXPORTERS.join('|')}.`
      : `Unknown exporter "${name}": choose one of ${EXPORTERS.join(', ')}.`,
  );
}

interface Running {
  describe: string;
  close(): Promise<unknown>;
  summary?(): string;
}

/** The flags each exporter takes, besides the sampler's and --duration. */
export const EXPORTER_FLAGS: Record<ExporterKind, readonly (keyof typeof EXPORTER_OPTIONS)[]> = {
  simple: ['host', 'port', 'webConfigFile', 'processLabels'],
  multirate: ['host', 'port', 'webConfigFile', 'multirateWindowMs', 'processLabels'],
  'remote-write': ['processLabels', 'remoteWriteUrl', 'pushIntervalMs', 'job', 'instance', 'queueDir', 'maxQueueBytes', 'maxShards'],
};

type Starter = (sampler: Sampler, onError: (error: Error) => void) => Promise<Running>;

/**
 * Runs an exporter until SIGINT or SIGTERM (or `seconds`), then stops it cleanly: remote
 * write pushes what is left first, within its close timeout.
 */
export async function runExporter(
  kind: ExporterKind,
  options: SamplerOptions,
  settings: ExporterSettings,
  seconds: number,
  warn: (lines: readonly string[]) => void,
): Promise<void> {
  const start = starter(kind, settings, { top: options.top, ...attributionOptions(settings) }); // every setting checked before anything opens
  const { user, ...sampling } = options; // the switch is made here, once the port is bound
  const sampler = openSampler(nameOptions(sampling, optionNames(options)));
  warn(sampler.warnings);
  let running: Running | undefined;
  const listens = kind !== 'remote-write';
  try {
    // Started as root, so a SCHED_FIFO asked for is granted before the switch.
    sampler.start();
    if (user && !listens) dropPrivileges(user);
    running = await start(sampler, (error) => warn([error.message]));
    if (user && listens) dropPrivileges(user);
  } catch (error) {
    await running?.close(); // never left serving as root
    sampler.close();
    throw error;
  }
  const domains = sampler.domains.map((d) => d.name).join(', ');
  console.log(`wattmeter ${kind} exporter ${running.describe} (${sampler.source}: ${domains})`);
  await waitUntilStopped(seconds);
  await running.close();
  sampler.close();
  if (running.summary) console.log(running.summary());
}

/** Parses the exporter's settings and returns what starts it on a sampler. */
function starter(kind: ExporterKind, settings: ExporterSettings, attribution: AttributionExportOptions): Starter {
  switch (kind) {
    case 'simple': {
      const server = serverOptions(settings, DEFAULT_PORTS.simple);
      return async (sampler) => {
        const exporter = await startSimpleExporter({ sampler, ...server, attribution });
        return { describe: `on ${exporter.url}`, close: () => exporter.close() };
      };
    }
    case 'multirate': {
      const server = multirateOptions(settings);
      return async (sampler) => {
        const exporter = await startMultirateExporter({ sampler, ...server, attribution });
        return { describe: `on ${exporter.url}`, close: () => exporter.close() };
      };
    }
    case 'remote-write': {
      const push = remoteWriteOptions(settings);
      return async (sampler, onError) => {
        const exporter = startRemoteWriteExporter({ sampler, ...push, onError, attribution });
        return {
          describe: `pushing to ${exporter.redactedUrl} as job=${push.job} instance=${push.instance}${push.queueDir ? `, queue in ${push.queueDir}` : ''}`,
          close: () => exporter.close(),
          summary() {
            const { sent, failed, dropped } = exporter.stats();
            return `stopped: ${sent} samples sent, ${failed} rejected, ${dropped} dropped`;
          },
        };
      };
    }
  }
}
