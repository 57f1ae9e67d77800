// The runtime stage of docker/Dockerfile, replayed natively (no Docker engine here): its
// RUN commands run in a temporary directory standing for /app, its COPY lines copy from
// this checkout (the build stage runs `npm run build` on the same sources), then each
// exporter starts from that directory alone. This catches a runtime that misses a file or
// needs a development dependency, which the image would only show when it runs.
import test from 'ava';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { FakeWriter, energyFile, fakePowercap, fiveZones, makeRootOnly, removeRoot, tempRoot } from '../fixtures/fake-rapl.js';
import { freePort, startServer } from '../fixtures/servers.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test -> repository
const WORKDIR = '/app'; // the build and runtime stages' WORKDIR

interface Instruction {
  keyword: string;
  args: string;
}

/** The instructions of the Dockerfile's last stage (line continuations joined, comments dropped). */
function runtimeStage(dockerfile: string): Instruction[] {
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').filter((line) => line.trim() && !line.trimStart().startsWith('#'));
  const instructions = lines.map((line) => {
    const [, keyword, args] = /^\s*(\w+)\s+(.*)$/.exec(line)!;
    return { keyword: keyword!.toUpperCase(), args: args!.trim() };
  });
  const lastFrom = instructions.map((i) => i.keyword).lastIndexOf('FROM');
  return instructions.slice(lastFrom + 1);
}

function sh(command: string, cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${command}: ${error.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** Replays the stage into `app`; returns its ENV and CMD. */
async function replay(stage: Instruction[], app: string): Promise<{ env: Record<string, string>; cmd: string[] }> {
  const env: Record<string, string> = {};
  let cmd: string[] = [];
  for (const { keyword, args } of stage) {
    switch (keyword) {
      case 'WORKDIR':
        if (args !== WORKDIR) throw new Error(`WORKDIR ${args}: this replay maps ${WORKDIR} only`);
        break;
      case 'ENV': {
        const [, name, value] = /^(\w+)=(.*)$/.exec(args)!;
        env[name!] = value!;
        break;
      }
      case 'COPY': {
        const words = args.split(/\s+/);
        const fromBuild = words[0] === '--from=build';
        const [destination, ...sources] = (fromBuild ? words.slice(1) : words).reverse();
        for (const source of sources.reverse()) {
          // The build stage's /app is this checkout after `npm run build`.
          const from = fromBuild ? path.join(ROOT, path.relative(WORKDIR, source)) : path.join(ROOT, source);
          const to = destination!.endsWith('/') ? path.join(app, destination!, path.basename(source)) : path.join(app, destination!);
          mkdirSync(path.dirname(to), { recursive: true });
          cpSync(from, to, { recursive: true });
        }
        break;
      }
      case 'RUN':
        // npm's cache goes to the temporary directory: `npm cache clean` must not empty ours.
        await sh(args, app, { ...process.env, ...env, npm_config_cache: path.join(app, '.npm-cache') });
        break;
      case 'CMD':
        cmd = JSON.parse(args) as string[];
        break;
      default:
        throw new Error(`${keyword} in the runtime stage: teach this replay what it does`);
    }
  }
  return { env, cmd };
}

test('the runtime stage holds everything the three exporters need, and nothing from the build', async (t) => {
  t.timeout(110_000); // npm ci downloads the production dependencies
  const app = tempRoot('wattmeter-image-'); // traversable: the exporters drop to nobody
  const sysfs = tempRoot();
  t.teardown(() => {
    removeRoot(app);
    removeRoot(sysfs);
  });
  const { env, cmd } = await replay(runtimeStage(readFileSync(path.join(ROOT, 'docker/Dockerfile'), 'utf8')), app);
  t.deepEqual(cmd, ['node', 'dist/lib/cli.js', 'export', 'simple']);
  t.is(env.WATTMETER_USER, 'node');

  const installed = JSON.parse(readFileSync(path.join(app, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
  for (const dev of Object.keys(installed.devDependencies)) {
    t.throws(() => readFileSync(path.join(app, 'node_modules', dev, 'package.json')), undefined, `${dev} is a devDependency`);
  }

  const zones = fiveZones();
  const writer = await FakeWriter.start(fakePowercap(sysfs, zones));
  t.teardown(() => writer.stop());
  for (const zone of zones) makeRootOnly(energyFile(sysfs, zone.zone));

  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    ...env,
    // The image's `node` user does not exist on this machine; nobody is as unprivileged.
    WATTMETER_USER: 'nobody',
    WATTMETER_SYSFS_ROOT: sysfs,
    WATTMETER_SOURCE: 'powercap',
    WATTMETER_HOST: '127.0.0.1',
  };
  const cli = path.join(app, 'dist/lib/cli.js');
  for (const exporter of ['simple', 'multirate']) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/metrics`;
    const server = await startServer(process.execPath, [cli, 'export', exporter], url, {
      env: { ...baseEnv, WATTMETER_PORT: String(port) },
    });
    t.teardown(() => server.stop());
    // multirate serves the ticks since its previous scrape: the first may come before any.
    let body = '';
    for (let tries = 0; tries < 50 && !/^wattmeter_energy_joules_total\{/m.test(body); tries++) {
      await sleep(100);
      body = await (await fetch(url)).text();
    }
    t.regex(body, /^wattmeter_energy_joules_total\{/m, exporter);
  }

  // remote-write pushes to a receiver that accepts everything (204) and counts the pushes.
  const receiverPort = await freePort();
  let pushed = 0;
  const receiver = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.method === 'POST') pushed++;
      response.writeHead(204).end();
    });
  });
  receiver.listen(receiverPort, '127.0.0.1');
  t.teardown(() => receiver.close());
  // It serves nothing: "ready" at once (the receiver answers); the loop waits for a push.
  const pusher = await startServer(process.execPath, [cli, 'export', 'remote-write'], `http://127.0.0.1:${receiverPort}/`, {
    env: { ...baseEnv, WATTMETER_REMOTE_WRITE_URL: `http://127.0.0.1:${receiverPort}/api/v1/write`, WATTMETER_PUSH_INTERVAL_MS: '200' },
  });
  t.teardown(() => pusher.stop());
  const deadline = Date.now() + 20_000;
  while (pushed === 0 && Date.now() < deadline && pusher.child.exitCode === null) await sleep(100);
  t.true(pushed > 0, pusher.output());
});
