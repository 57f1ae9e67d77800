// The package's install script. Where a prebuilt addon (linux-x64 glibc) or an earlier build
// loads, there is nothing to do. In a checkout of the repository it makes the development
// build (cmake-js). Otherwise it compiles with npm's own node-gyp (binding.gyp), and when
// that cannot work says what is missing, in one message.
import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const require = createRequire(import.meta.url);
const packageDir = (name) => {
  try {
    return path.dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
};
const run = (command, args) => spawnSync(command, args, { cwd: root, stdio: 'inherit' }).status ?? 1;

const onPath = (command) =>
  (process.env.PATH ?? '').split(path.delimiter).some((dir) => {
    try {
      accessSync(path.join(dir, command), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
// npm tells its scripts where its bundled node-gyp is; otherwise one on the PATH.
const nodeGyp = () => {
  const gyp = process.env.npm_config_node_gyp;
  return gyp ? run(process.execPath, [gyp, 'rebuild']) : run('node-gyp', ['rebuild']);
};

if (!root.split(path.sep).includes('node_modules')) {
  // A checkout (or a git dependency being prepared): dev dependencies are installed. The
  // development build is cmake-js's; a machine without cmake builds the same sources
  // with node-gyp (binding.gyp), which needs only python3, make and g++.
  const cmakeJs = packageDir('cmake-js');
  if (cmakeJs && onPath('cmake')) {
    process.exit(run(process.execPath, [path.join(cmakeJs, 'bin', 'cmake-js'), 'compile', '--out', 'build']));
  }
  console.error(`wattmeter: ${cmakeJs ? 'cmake' : 'cmake-js'} not found; building the addon with node-gyp instead.`);
  process.exit(nodeGyp());
}

delete process.env.WATTMETER_ADDON; // the package's own build is what counts here
const native = await import(pathToFileURL(path.join(root, 'dist', 'lib', 'native.js')).href);
const loads = () => {
  try {
    native.addon();
    return true;
  } catch {
    return false;
  }
};
if (loads()) process.exit(0);

const fail = (reason) => {
  console.error(
    [
      `wattmeter: no native addon for ${process.platform}-${process.arch} (${native.libc()}): ${reason}.`,
      `A prebuilt addon ships for ${native.PREBUILT_PLATFORMS}; elsewhere it is compiled at install, which needs ${native.TOOLCHAIN}`,
      '(Debian/Ubuntu: apt-get install python3 make g++; Alpine: apk add python3 make g++; Fedora: dnf install python3 make gcc-c++).',
      'Install them, then run `npm rebuild wattmeter` to retry.',
    ].join('\n'),
  );
  process.exit(1);
};

const missing = [];
if (!process.env.PYTHON && !process.env.npm_config_python && !onPath('python3') && !onPath('python')) missing.push('python3');
if (!onPath('make')) missing.push('make');
// CXX may carry arguments ("ccache g++"): its program is the first word.
const cxx = process.env.CXX?.trim().split(/\s+/)[0];
if (!(cxx ? onPath(cxx) || path.isAbsolute(cxx) : ['c++', 'g++', 'clang++'].some(onPath))) {
  missing.push('a C++ compiler');
}
if (!packageDir('node-addon-api')) missing.push('the package node-addon-api (omitted with the optional dependencies)');
if (missing.length > 0) fail(`${missing.join(', ')} not found`);

if (nodeGyp() !== 0) fail('node-gyp could not compile it (its output is above)');
if (!loads()) fail('the addon node-gyp built does not load');
