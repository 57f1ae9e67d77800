// `npm pack` runs this (prepack): builds the addon for this machine into
// prebuilds/<platform>-<arch>/, prebuildify-style, so that an install on the same platform
// needs no compiler and no install script. cmake-js builds against the npm package
// node-api-headers ("binary.napi_versions" in package.json), so nothing is downloaded;
// `-s` strips the binary as it is linked.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const nativeJs = path.join(root, 'dist', 'lib', 'native.js');
if (!existsSync(nativeJs)) {
  console.error('wattmeter prebuild: dist/lib/native.js is missing; run `npm run build` first.');
  process.exit(1);
}
const { prebuiltPath } = await import(pathToFileURL(nativeJs).href);

const out = path.join(root, 'build', 'prebuild');
const cmakeJs = path.join(path.dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
const built = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', out, '--CDCMAKE_SHARED_LINKER_FLAGS=-s'], {
  cwd: root,
  encoding: 'utf8',
});
if (built.status !== 0) {
  process.stderr.write(built.stdout + built.stderr); // npm pack --json owns stdout
  process.exit(1);
}

const target = prebuiltPath(root);
mkdirSync(path.dirname(target), { recursive: true });
copyFileSync(path.join(out, 'Release', 'wattmeter.node'), target);
if (typeof require(target).readOnce !== 'function') throw new Error(`${target} is not the wattmeter addon`);
console.error(`wattmeter prebuild: ${path.relative(root, target)} (${statSync(target).size} bytes)`);
