// One error type for everything a user can fix: the CLI prints its message alone (no
// stack trace) and exits with its exit code.

export type ErrorKind = 'usage' | 'runtime';

export class WattmeterError extends Error {
  readonly kind: ErrorKind;
  readonly code: string;

  constructor(message: string, options: { kind?: ErrorKind; code?: string; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'WattmeterError';
    this.kind = options.kind ?? 'runtime';
    this.code = options.code ?? 'WATTMETER_ERROR';
  }

  /** 2 for a usage error (a bad option), 1 for a runtime error (the machine said no). */
  get exitCode(): number {
    return this.kind === 'usage' ? 2 : 1;
  }
}

export function usageError(message: string): WattmeterError {
  return new WattmeterError(message, { kind: 'usage', code: 'WATTMETER_USAGE' });
}

/** An error the addon throws: `code` (an errno name or WATTMETER_*) and the file at fault. */
export interface NativeError extends Error {
  code?: string;
  path?: string;
}

const permissionHelp = (user: string) =>
  [
    'RAPL energy counters are readable by root only since Linux 5.10 (CVE-2020-8694).',
    'Ways out: run as root (sudo); or grant read access, e.g. a udev rule',
    '  SUBSYSTEM=="powercap", ACTION=="add", RUN+="/bin/chmod a+r /sys%p/energy_uj"',
    '  (or `sudo chmod a+r /sys/class/powercap/*/energy_uj` until the next boot);',
    `or start as root with ${user} set to a user: wattmeter opens the counters, then runs as that user.`,
  ].join('\n');

/**
 * Turns an error thrown by the addon into a message that says what to do about it,
 * naming each option as the caller does (`names`: a flag, a variable; else its key).
 */
export function explainNativeError(error: unknown, names: Readonly<Partial<Record<string, string>>> = {}): Error {
  const name = (option: 'source' | 'user' | 'nvmlLibrary') => names[option] ?? option;
  if (!(error instanceof Error)) return new WattmeterError(String(error));
  const { code, path: file } = error as NativeError;
  const isMsr = !!file && (file.includes('/msr') || file.startsWith('/dev/cpu'));
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      if (isMsr) {
        return new WattmeterError(
          `Permission denied opening ${file}: reading MSRs needs CAP_SYS_RAWIO. ` +
            'Run as root, or give node the capability: sudo setcap cap_sys_rawio=ep "$(readlink -f "$(which node)")" ' +
            '(and read access to /dev/cpu/*/msr).',
          { code, cause: error },
        );
      }
      return new WattmeterError(`Permission denied reading ${file}.\n${permissionHelp(name('user'))}`, { code, cause: error });
    case 'ENOENT':
      if (isMsr) {
        return new WattmeterError(
          `${file} does not exist: the msr kernel module is not loaded. Load it with \`sudo modprobe msr\` ` +
            `(or choose another source with ${name('source')}).`,
          { code, cause: error },
        );
      }
      return new WattmeterError(error.message, { code, cause: error });
    case 'WATTMETER_NO_NVML':
      if (error.message.startsWith('cannot load NVML')) {
        return new WattmeterError(`${error.message} If it is elsewhere, point ${name('nvmlLibrary')} at it.`, { code, cause: error });
      }
      return new WattmeterError(error.message, { code, cause: error });
    case undefined:
      return error;
    default:
      return new WattmeterError(error.message, { code, cause: error });
  }
}
