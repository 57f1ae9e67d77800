// The remote-write exporter: pushes every tick to a Prometheus remote write receiver
// (Prometheus with --web.enable-remote-write-receiver, VictoriaMetrics, Mimir, Thanos...).
// Configured from the environment:
//   WATTMETER_REMOTE_WRITE_URL (required), WATTMETER_PUSH_INTERVAL_MS (default 1000),
//   WATTMETER_REMOTE_WRITE_BEARER_TOKEN or WATTMETER_REMOTE_WRITE_USERNAME/_PASSWORD,
//   WATTMETER_JOB, WATTMETER_INSTANCE, WATTMETER_RATE_HZ, WATTMETER_SOURCE...
//   WATTMETER_REMOTE_WRITE_URL=http://localhost:9090/api/v1/write npm run example:remote-write
import { WattmeterError, openSampler, optionsFromEnv, remoteWriteOptionsFromEnv, startRemoteWriteExporter } from 'wattmeter';

try {
  const push = remoteWriteOptionsFromEnv();
  const sampler = openSampler(optionsFromEnv());
  // Why `auto` passed over a real source (no RAPL: the model, an estimate), once.
  for (const line of sampler.warnings) console.error(`wattmeter: ${line}`);
  const exporter = startRemoteWriteExporter({ sampler, ...push, onError: (error) => console.error(error.message) });
  console.log(`wattmeter remote write to ${exporter.redactedUrl} as job=${push.job} instance=${push.instance}`);
  const stop = async () => {
    await exporter.close(); // pushes what is left, for at most 5 s
    sampler.close();
    const { sent, failed, dropped } = exporter.stats();
    console.log(`stopped: ${sent} samples sent, ${failed} rejected, ${dropped} dropped`);
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
} catch (error) {
  if (!(error instanceof WattmeterError)) throw error;
  console.error(error.message);
  process.exit(error.exitCode);
}
