// Where the compiled comparison finds the repository (dist/bench/compare -> repository root).
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
