// `npm test`: makes sure the programs the tests run against are here, then runs ava with
// every temporary file under one fresh directory, removed afterwards whatever happened.
// As root on Debian or Ubuntu the missing programs are installed with apt-get; elsewhere
// the run stops before any test with one message naming them and the command to install
// them. Arguments are passed to ava (`npm test -- dist/test/cli.test.js`).
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

interface Peer {
  /** How to tell it is here: a program on PATH, or a command that must succeed. */
  check: string | readonly string[];
  /** The Debian package that has it. */
  debian: string;
  why: string;
}

const PEERS: readonly Peer[] = [
  { check: 'prometheus', debian: 'prometheus', why: 'the exporters end to end' },
  { check: 'promtool', debian: 'prometheus', why: 'checks of metrics and configuration' },
  { check: 'prometheus-node-exporter', debian: 'prometheus-node-exporter', why: 'the rapl collector as a baseline' },
  { check: 'victoria-metrics', debian: 'victoria-metrics', why: 'a second remote-write receiver' },
  { check: 'docker-compose', debian: 'docker-compose', why: 'validating the Compose stack' },
  { check: 'yamllint', debian: 'yamllint', why: 'linting the stack YAML' },
  // Debian's own python3, where its packages install (a python3 earlier on PATH may lack them).
  { check: ['/usr/bin/python3', '-c', 'import yaml'], debian: 'python3-yaml', why: 'reading rendered YAML' },
  { check: ['/usr/bin/python3', '-c', 'import prometheus_client.openmetrics.parser'], debian: 'python3-prometheus-client', why: 'the reference OpenMetrics parser' },
  { check: 'cc', debian: 'gcc', why: 'compiling the fake NVML library' },
  { check: 'cmake', debian: 'cmake', why: 'building the prebuilt addon as `npm pack` does' },
  { check: 'tmux', debian: 'tmux', why: 'the live table on a real pseudo-terminal' },
  { check: '/usr/bin/chromium', debian: 'chromium', why: 'a real browser for the live page of `wattmeter serve`' },
];

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/test -> repository

function present({ check }: Peer): boolean {
  const [program, ...args] = typeof check === 'string' ? ['sh', '-c', `command -v ${check}`] : check;
  return spawnSync(program, args, { stdio: 'ignore' }).status === 0;
}

function debianLike(): boolean {
  if (!existsSync('/etc/os-release') || !existsSync('/usr/bin/apt-get')) return false;
  return /^(ID|ID_LIKE)=.*\b(debian|ubuntu)\b/m.test(readFileSync('/etc/os-release', 'utf8'));
}

/** Installs what is missing where it can; returns the message to stop with otherwise. */
function ensurePeers(): string | undefined {
  const missing = PEERS.filter((peer) => !present(peer));
  if (missing.length === 0) return undefined;
  const packages = [...new Set(missing.map((peer) => peer.debian))];
  const list = missing.map((p) => `  ${typeof p.check === 'string' ? p.check : p.debian} (${p.why})`).join('\n');
  const command = `apt-get install -y --no-install-recommends ${packages.join(' ')}`;
  if (process.getuid?.() === 0 && debianLike()) {
    process.stderr.write(`npm test: installing ${packages.join(', ')} with apt-get...\n`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    try {
      execFileSync('apt-get', ['update', '-qq'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
      execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...packages], { env, stdio: ['ignore', 'ignore', 'inherit'] });
    } catch {
      return `npm test: apt-get could not install ${packages.join(' ')} (see above). The tests need:\n${list}`;
    }
    const still = missing.filter((peer) => !present(peer));
    if (still.length === 0) return undefined;
    return `npm test: still missing after apt-get: ${still.map((p) => p.debian).join(', ')}`;
  }
  return `npm test: the tests run against real programs, and these are missing:\n${list}\nInstall them (Debian or Ubuntu):\n  sudo ${command}\nor run the tests that need none: npm run test:unit`;
}

const stop = ensurePeers();
if (stop) {
  process.stderr.write(`${stop}\n`);
  process.exit(1);
}
const scratch = mkdtempSync(path.join(tmpdir(), 'wattmeter-tests-'));
chmodSync(scratch, 0o755); // tests run some programs as nobody, who must reach their files
const ava = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), ...process.argv.slice(2)], {
  cwd: ROOT,
  stdio: 'inherit',
  env: { ...process.env, TMPDIR: scratch },
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => ava.kill(signal));
ava.on('exit', (code, signal) => {
  rmSync(scratch, { recursive: true, force: true });
  process.exit(code ?? (signal ? 1 : 0));
});
