// `npm start`: builds (npm run build: the Nest apps and the dashboard) when an output is missing or
// older than the sources, then runs the supervisor (embedded servers when none is configured, then
// the api and ingest processes). Signals go to the supervisor, which stops everything in order.
import { spawnSync, spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const entry = join(root, 'dist/apps/lantern/apps/lantern/src/main.js');
const outputs = [
  entry,
  join(root, 'dist/apps/api/apps/api/src/main.js'),
  join(root, 'dist/apps/ingest/apps/ingest/src/main.js'),
  join(root, 'dist/dashboard/index.html'),
];
const SOURCE = /\.(ts|tsx|html|css|json)$/;

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (SOURCE.test(entry.name) && !entry.name.endsWith('.spec.ts'))
      newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

const sources = Math.max(...['apps', 'libs'].map((dir) => newestMtime(join(root, dir))));
const stale = outputs.some((output) => !existsSync(output) || statSync(output).mtimeMs < sources);
if (stale) {
  console.log('Building Lantern (npm run build)…');
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const child = spawn(process.execPath, [entry, ...process.argv.slice(2)], { cwd: root, stdio: 'inherit' });
// Ctrl-C in a terminal reaches the supervisor directly (same process group); forwarding covers
// `kill <pid of npm start>`. The supervisor ignores a repeated signal while it is stopping.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
