import { afterAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { findFreePort, resolveBrokerCertificate } from '@lantern/embedded';
import { launchMosquitto, startMosquitto } from '../../bench/src/infra/mosquitto.js';
import type { BenchProcess } from '../../bench/src/infra/processes.js';

/** 'connected', or the reason the broker or the TLS handshake refused the client. */
async function tryConnect(url: string, options: mqtt.IClientOptions = {}): Promise<string> {
  try {
    const client = await mqtt.connectAsync(url, { ...options, reconnectPeriod: 0, connectTimeout: 3000 });
    await client.endAsync();
    return 'connected';
  } catch (error) {
    return (error as { code?: string | number }).code === 5 ? 'not authorized' : (error as Error).message;
  }
}

// The options the callers do not exercise between them (password file, TLS on a broker without
// persistence), against the real mosquitto; the callers' own files are pinned in bench/src/infra/mosquitto.spec.ts.
describe('the shared mosquitto starter', () => {
  const dir = mkdtempSync(join(tmpdir(), 'lantern-mosquitto-spec-'));
  const running: BenchProcess[] = [];
  afterAll(async () => {
    for (const proc of running) await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('with a password file refuses anonymous clients and admits the user, over TCP and TLS', async () => {
    const passwordFile = join(dir, 'passwd');
    execFileSync('mosquitto_passwd', ['-b', '-c', passwordFile, 'service', 'secret-1']);
    const certificate = await resolveBrokerCertificate({ dataDir: dir });
    const [port, tlsPort] = [await findFreePort(), await findFreePort()];
    const conf = join(dir, 'auth.conf');
    running.push(
      await startMosquitto(conf, {
        port,
        passwordFile,
        tls: { port: tlsPort, certFile: certificate.certFile, keyFile: certificate.keyFile },
      }),
    );
    const login = { username: 'service', password: 'secret-1' };
    expect(await tryConnect(`mqtt://127.0.0.1:${port}`)).toBe('not authorized');
    expect(await tryConnect(`mqtt://127.0.0.1:${port}`, { ...login, password: 'wrong' })).toBe('not authorized');
    expect(await tryConnect(`mqtt://127.0.0.1:${port}`, login)).toBe('connected');
    expect(await tryConnect(`mqtts://localhost:${tlsPort}`, { ...login, ca: certificate.cert })).toBe('connected');

    // Started again on the same file (the chaos harness's broker restart): same port, same rules.
    await running.pop()!.stop();
    expect(await tryConnect(`mqtt://127.0.0.1:${port}`, login)).toMatch(/ECONNREFUSED/);
    running.push(await launchMosquitto(conf, [port]));
    expect(await tryConnect(`mqtt://127.0.0.1:${port}`)).toBe('not authorized');
    expect(await tryConnect(`mqtt://127.0.0.1:${port}`, login)).toBe('connected');
  });

  it("fails with mosquitto's own words when it does not start", async () => {
    const port = await findFreePort();
    const failure = (await startMosquitto(join(dir, 'bad.conf'), { port, extra: ['no_such_setting 1'] }).then(
      (proc) => (running.push(proc), undefined),
      (error: unknown) => error,
    )) as Error | undefined;
    expect(failure?.message).toMatch(
      new RegExp(`^mosquitto exited \\(\\d+\\) before mosquitto to listen on port ${port}:`),
    );
    expect(failure?.message).toMatch(/no_such_setting/);
  });
});
