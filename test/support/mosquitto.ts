import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findFreePort } from '@lantern/embedded';

export interface MosquittoServer {
  readonly port: number;
  readonly url: string;
  stop(): Promise<void>;
}

// The no-loss settings of docker/mosquitto.conf (queue and in-flight limits); listener, persistence,
// auth and logging are the test's own.
const KEPT =
  /^(max_queued_messages|max_queued_bytes|max_inflight_messages|max_inflight_bytes|max_packet_size|upgrade_outgoing_qos|queue_qos0_messages|set_tcp_nodelay|retain_available)\s/;

/**
 * Starts Debian's mosquitto on a free port with the shipped docker/mosquitto.conf limits, for tests
 * that need their own broker (no-loss under load, a broker nobody else's test touches).
 * `defaults: true` starts it with Mosquitto's own (lossy) defaults instead.
 */
export async function startMosquitto(options: { defaults?: boolean } = {}): Promise<MosquittoServer> {
  const binary = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'].find((p) => existsSync(p));
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  const port = await findFreePort();
  const dir = mkdtempSync(join(tmpdir(), 'lantern-mosquitto-'));
  const shipped = new URL('../../docker/mosquitto.conf', import.meta.url);
  const kept = options.defaults
    ? []
    : readFileSync(shipped, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => KEPT.test(l));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      ...kept,
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn(binary, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const deadline = Date.now() + 5000;
  while (!(await canConnect(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`mosquitto did not start on port ${port}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 30));
  }
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
