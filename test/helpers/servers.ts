// Real servers for tests (node_exporter, Prometheus, VictoriaMetrics, the examples):
// started on loopback ports, waited for, and stopped.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The environment to start a program of ours with: the caller's, less any WATTMETER_ or
 * PROMETHEUS_ setting its shell may carry (WATTMETER_ADDON, which picks the build under
 * test, is kept), plus `extra`.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const kept = Object.entries(process.env).filter(([key]) => !/^(WATTMETER_|PROMETHEUS_)/.test(key) || key === 'WATTMETER_ADDON');
  return { ...Object.fromEntries(kept), ...extra };
}

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

export interface Server {
  child: ChildProcess;
  /** What the process printed so far (for failure messages). */
  output(): string;
  stop(): Promise<void>;
}

/** GETs url until it answers 2xx, the process dies or timeoutMs passes. */
export async function waitForHttp(url: string, server?: Server, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (server && server.child.exitCode !== null) {
      throw new Error(`${url}: the server exited (${server.child.exitCode}):\n${server.output()}`);
    }
    try {
      const response = await fetch(url);
      await response.arrayBuffer();
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms\n${server?.output() ?? ''}`);
}

/** Starts a program and resolves once readyUrl answers. */
export async function startServer(
  command: string,
  args: string[],
  readyUrl: string,
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Server> {
  const child = spawn(command, args, { env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const server: Server = {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
  try {
    await waitForHttp(readyUrl, server, options.timeoutMs);
  } catch (error) {
    await server.stop();
    throw error;
  }
  return server;
}

/** node_exporter with only its rapl collector, reading the sysfs tree at sysfsRoot. */
export async function startNodeExporter(sysfsRoot: string): Promise<Server & { url: string }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const server = await startServer(
    'prometheus-node-exporter',
    [`--path.sysfs=${sysfsRoot}`, `--web.listen-address=127.0.0.1:${port}`, '--collector.disable-defaults', '--collector.rapl'],
    url,
  );
  return { ...server, url };
}
