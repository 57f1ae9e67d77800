// The simple exporter: one value per series per scrape (prom-client), the way most
// exporters work. Configured from the environment:
//   WATTMETER_HOST, WATTMETER_PORT (default 9091), WATTMETER_RATE_HZ, WATTMETER_SOURCE...
//   npm run example:simple   then   curl http://localhost:9091/metrics
import { DEFAULT_PORTS, WattmeterError, openSampler, optionsFromEnv, serverOptionsFromEnv, startSimpleExporter } from 'wattmeter';

try {
  const server = serverOptionsFromEnv(DEFAULT_PORTS.simple);
  const sampler = openSampler(optionsFromEnv());
  // Why `auto` passed over a real source (no RAPL: the model, an estimate), once.
  for (const line of sampler.warnings) console.error(`wattmeter: ${line}`);
  const exporter = await startSimpleExporter({ sampler, ...server });
  console.log(`wattmeter simple exporter on ${exporter.url} (${sampler.source}: ${sampler.domains.map((d) => d.name).join(', ')})`);
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
