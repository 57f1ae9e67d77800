// `wattmeter serve` (what `npm start` runs): one sampler, one address, the live page at /,
// the simple and multirate exporters' metrics on their own paths, and remote write when
// --url is given; every setting of `wattmeter export` applies. With WATTMETER_USER the
// counters are opened and the port bound as root, then the process switches user.
import { flagAndEnvNames, parseArgsOptions, textsFromEnv, textsFromFlags, usageLines } from '../option-table.js';
import { nameOptions, optionNames } from '../options.js';
import { openSampler } from '../sampler.js';
import { dropPrivileges } from '../privileges.js';
import { usageError } from '../errors.js';
import { DEFAULT_PORTS, EXPORTER_OPTIONS, attributionOptions, multirateOptions, remoteWriteOptions, serverOptions, type ExporterSettings } from '../exporters/env.js';
import { ESTIMATE_BANNER, SERVE_PATHS, startServe } from '../serve/server.js';
import { durationS, samplerOptions, waitUntilStopped, warn, type Command, type Flags } from './command.js';

const USAGE = `Usage: wattmeter serve [options]

Samples every energy domain and serves, on one address (default http://127.0.0.1:${DEFAULT_PORTS.serve}/),
until SIGINT or SIGTERM:
  ${SERVE_PATHS.page.padEnd(20)}the live page: power per domain every millisecond, and what each exporter stores
  ${SERVE_PATHS.simple.padEnd(20)}the simple exporter's metrics (one value per scrape)
  ${SERVE_PATHS.multirate.padEnd(20)}the multirate exporter's metrics (every sample of the window, timestamped)
and pushes every sample to a remote-write receiver when --url is given.

Options (each also an environment variable; --port defaults to ${DEFAULT_PORTS.serve}):
${usageLines(EXPORTER_OPTIONS).join('\n')}
  --duration S                       stop after S seconds (default: run until stopped)
`;

export const serveCommand: Command = {
  summary: `serve [--host A] [--port P] [--url URL] ...
                                   the live page, the exporters' metrics, remote write: one process`,
  usage: USAGE,
  flags: { ...parseArgsOptions(EXPORTER_OPTIONS), duration: { type: 'string' } },
  run: runServe,
};

/** Runs until SIGINT or SIGTERM (or --duration), then stops every part cleanly. */
async function runServe(flags: Flags): Promise<void> {
  const seconds = durationS(flags, Infinity);
  const options = samplerOptions(flags);
  const { user, ...sampling } = options; // the switch is made here, once the port is bound
  // Every setting is checked before anything opens.
  const settings: ExporterSettings = {
    texts: { ...textsFromEnv(EXPORTER_OPTIONS, process.env), ...textsFromFlags(EXPORTER_OPTIONS, flags) },
    names: flagAndEnvNames(EXPORTER_OPTIONS),
  };
  const server = serverOptions(settings, DEFAULT_PORTS.serve);
  const { windowMs } = multirateOptions(settings);
  const attribution = { top: options.top, ...attributionOptions(settings) };
  const push = settings.texts.remoteWriteUrl === undefined ? undefined : remoteWriteOptions(settings);
  if (user && push?.queueDir) {
    throw usageError(`${settings.names.queueDir} with --user / WATTMETER_USER: serve binds as root first, so its queue files would be root's. Run \`wattmeter export remote-write\` for a disk queue under another user.`);
  }
  const sampler = openSampler(nameOptions(sampling, optionNames(options)));
  warn(sampler.warnings);
  if (sampler.source === 'model') warn([ESTIMATE_BANNER]);
  let served: Awaited<ReturnType<typeof startServe>> | undefined;
  try {
    sampler.start(); // as root, so a SCHED_FIFO asked for is granted before the switch
    served = await startServe({
      sampler,
      ...server,
      multirateWindowMs: windowMs,
      attribution,
      remoteWrite: push && { ...push, onError: (error) => warn([error.message]) },
    });
    if (user) dropPrivileges(user);
  } catch (error) {
    await served?.close(); // never left serving as root
    sampler.close();
    throw error;
  }
  const origin = served.url.slice(0, -1);
  const domains = sampler.domains.map((d) => d.name).join(', ');
  console.log(`wattmeter serve: live page on ${served.url} (${sampler.source}: ${domains})`);
  console.log(`  metrics: ${origin}${SERVE_PATHS.simple} (simple), ${origin}${SERVE_PATHS.multirate} (multirate)`);
  if (served.remoteWrite) console.log(`  remote write: pushing to ${served.remoteWrite.redactedUrl} as job=${push!.job} instance=${push!.instance}`);
  await waitUntilStopped(seconds);
  const remoteWrite = served.remoteWrite;
  await served.close();
  sampler.close();
  if (remoteWrite) {
    const { sent, failed, dropped } = remoteWrite.stats();
    console.log(`stopped: ${sent} samples sent by remote write, ${failed} rejected, ${dropped} dropped`);
  }
}
