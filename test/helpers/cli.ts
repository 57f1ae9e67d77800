// Runs the built `wattmeter` command as a user would, and collects what it printed.
import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { cleanEnv } from './servers.js';

export const CLI = fileURLToPath(new URL('../../lib/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  /** Run as this uid/gid (tests run as root; 65534 is nobody). */
  uid?: number;
  timeoutMs?: number;
}

export function wattmeter(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: cleanEnv(options.env),
        timeout: options.timeoutMs ?? 60_000,
        maxBuffer: 256 * 1024 * 1024,
        ...(options.uid === undefined ? {} : { uid: options.uid, gid: options.uid }),
      },
      (error, stdout, stderr) => {
        const code = error ? ((error as { code?: number }).code ?? null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

/** Starts the command and returns the child, for tests that signal it. */
export function spawnWattmeter(args: string[], options: RunOptions = {}) {
  return spawn(process.execPath, [CLI, ...args], { env: cleanEnv(options.env), stdio: ['ignore', 'pipe', 'pipe'] });
}
