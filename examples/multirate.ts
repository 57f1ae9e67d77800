// The multirate exporter: every tick reaches Prometheus, each line with its own
// millisecond timestamp; every scrape serves the last 30 s (by default), so a failed scrape loses
// nothing and several Prometheus servers can scrape it. Configured from the environment:
//   WATTMETER_HOST, WATTMETER_PORT (default 9092), WATTMETER_RATE_HZ, WATTMETER_SOURCE...
//   WATTMETER_MULTIRATE_WINDOW_MS (default 30000): more than the scrape interval, and more
//   again for each failed scrape in a row to survive.
//   npm run example:multirate   then   curl http://localhost:9092/metrics
import { WattmeterError, multirateOptionsFromEnv, openSampler, optionsFromEnv, startMultirateExporter } from 'wattmeter';

try {
  const options = multirateOptionsFromEnv();
  const sampler = openSampler(optionsFromEnv());
  // Why `auto` passed over a real source (no RAPL: the model, an estimate), once.
  for (const line of sampler.warnings) console.error(`wattmeter: ${line}`);
  const exporter = await startMultirateExporter({ sampler, ...options });
  console.log(`wattmeter multirate exporter on ${exporter.url} (${sampler.source}: ${sampler.domains.map((d) => d.name).join(', ')})`);
  const stop = async () => {
    await exporter.close();
    sampler.close();
  };
  process.once('SIGINT', stop).once('SIGTERM', stop);
} catch (error) {
  if (!(error instanceof WattmeterError)) throw error;
  console.error(error.message);
  process.exit(error.exitCode);
}
