// The package's version: `wattmeter --version`, the doctor's report, remote write's User-Agent.
import { createRequire } from 'node:module';

export const VERSION: string = createRequire(import.meta.url)('../../package.json').version;
