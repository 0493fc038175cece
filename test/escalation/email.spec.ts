import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { ConsoleLogger, Logger, type INestApplicationContext, type LoggerService } from '@nestjs/common';
import type { MqttClient } from 'mqtt';
import { findFreePort } from '@lantern/embedded';
import { loadConfig } from '@lantern/config';
import { DEFAULT_ESCALATION, type AlertDeliveryResource, type AlertResource } from '@lantern/domain';
import { topicsFor } from '@lantern/messaging';
import { EmailChannel } from '../../apps/api/src/escalation/email/email.channel.js';
import { PermanentDeliveryError, type PendingDelivery } from '../../apps/api/src/escalation/delivery-channel.js';
import { ApiData } from '../support/builders.js';
import { ADMIN_EMAIL, ADMIN_PASSWORD, startApi, type ApiFixture } from '../support/boot.js';
import { ingestEnvironment, startIngest } from '../ingest/ingest-fixture.js';
import { bodyOf } from '../support/http.js';
import { connectMqtt } from '../support/mqtt.js';
import { startSmtpServer, type SmtpTestServer } from '../support/smtp-server.js';
import { waitFor } from '../support/wait.js';

const OPENED = '2026-12-06T03:12:40.000Z';

const ALERT: AlertResource = {
  id: '6f1c1d2e-0000-4000-8000-000000000001',
  patientId: '6f1c1d2e-0000-4000-8000-0000000000aa',
  deviceId: '6f1c1d2e-0000-4000-8000-0000000000dd',
  rule: 'glucose.urgent_low',
  metric: 'glucose',
  priority: 'high',
  state: 'open',
  message: 'Glucose 48 mg/dL — below 54 (urgent low)',
  value: 48,
  peakValue: 48,
  openedAt: OPENED,
  lastTriggeredAt: OPENED,
  escalationLevel: 0,
  late: false,
  measuredAt: OPENED,
  raisedAt: OPENED,
};

let deliveries = 0;
/** A delivery as the dispatcher hands it over; each call a new id. */
function delivery(target: string, role: PendingDelivery['recipient']['role'] = 'clinician'): PendingDelivery {
  deliveries += 1;
  return {
    id: `6f1c1d2e-0000-4000-8000-${String(deliveries).padStart(12, '0')}`,
    alertId: ALERT.id,
    patientId: ALERT.patientId,
    patientName: 'Ada Lovelace',
    tier: 2,
    recipient: { id: '6f1c1d2e-0000-4000-8000-0000000000cc', role },
    channel: 'email',
    target,
    attempts: 0,
    alert: ALERT,
    receiptToken: 'not-used-by-email',
  };
}

/** A channel as Nest would build it, from the environment the api would read. */
const channelFor = (env: Record<string, string>): EmailChannel =>
  new EmailChannel(loadConfig({ EMAIL_FROM: 'Lantern Alerts <alerts@lantern.test>', ...env }));

/** What a send threw (fails the test when it did not throw). */
async function failureOf(send: Promise<unknown>): Promise<Error> {
  try {
    await send;
  } catch (error) {
    return error as Error;
  }
  throw new Error('the send succeeded');
}

/** The e-mail channel against a real SMTP server process (test/support/smtp-server-process.mjs). */
describe('EmailChannel', () => {
  let server: SmtpTestServer;
  const channels: EmailChannel[] = [];
  const servers: SmtpTestServer[] = [];
  const open = (env: Record<string, string>): EmailChannel => {
    const channel = channelFor(env);
    channels.push(channel);
    return channel;
  };
  const plain = (s: SmtpTestServer) => ({ SMTP_URL: `smtp://127.0.0.1:${s.port}`, SMTP_REQUIRE_TLS: 'false' });

  beforeAll(async () => {
    server = await startSmtpServer();
    servers.push(server);
  });

  afterEach(() => {
    for (const channel of channels.splice(0)) channel.onModuleDestroy();
  });

  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('is disabled without SMTP_URL, and refuses to send', async () => {
    const channel = channelFor({});
    expect(channel.enabled).toBe(false);
    expect(await failureOf(channel.send(delivery('x@example.org')))).toBeInstanceOf(PermanentDeliveryError);
  });

  it('delivers when the server accepts: the message carries the delivery id as Message-ID and header', async () => {
    const channel = open(plain(server));
    expect(channel.enabled).toBe(true);
    const d = delivery('nurse@care.test');
    expect(await channel.send(d)).toEqual({ delivered: true });

    const mail = await server.waitForMessage((m) => m.envelope.to.includes('nurse@care.test'), 'to the nurse');
    expect(mail.envelope).toEqual({ from: 'alerts@lantern.test', to: ['nurse@care.test'] });
    expect(mail.messageId).toBe(`<delivery-${d.id}@lantern.test>`);
    expect(mail.headers['x-lantern-delivery']).toBe(d.id);
    expect(mail.headers['auto-submitted']).toBe('auto-generated');
    expect(mail.raw).toMatch(/^Importance: High\r$/m);
    expect(mail.headers.from).toBe('"Lantern Alerts" <alerts@lantern.test>');
    expect(mail.subject).toBe('High alert for Ada Lovelace: Glucose 48 mg/dL — below 54 (urgent low)');
    expect(mail.text).toContain('What:      Glucose 48 mg/dL — below 54 (urgent low)');
    expect(mail.text).toContain('Measured:  03:12 UTC on 6 December 2026');
    expect(mail.text).toContain('Priority:  high');
  });

  it('writes to the patient in plain words', async () => {
    const channel = open(plain(server));
    await channel.send(delivery('ada@home.test', 'patient'));
    const mail = await server.waitForMessage((m) => m.envelope.to.includes('ada@home.test'), 'to the patient');
    expect(mail.subject).toBe('Your glucose (blood sugar) is very low');
    expect(mail.text).toContain(
      'Your glucose (blood sugar) is very low: 48 milligrams per decilitre, measured at 03:12 UTC on 6 December 2026.',
    );
    expect(mail.text).toContain('Please follow your care plan.');
    expect(mail.text).not.toMatch(/mg\/dL|urgent low/);
  });

  it('ends a 550 rejection at once (PermanentDeliveryError), without the address in the error', async () => {
    const channel = open(plain(server));
    const before = server.messages.length;
    const error = await failureOf(channel.send(delivery('gone@bounce.test')));
    expect(error).toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/^SMTP 550 after RCPT TO: 550 5\.1\.1 <address>: mailbox unavailable$/);
    expect(server.messages.length).toBe(before);
  });

  it('retries a 451 (plain error), and the next attempt is delivered once', async () => {
    const channel = open(plain(server));
    const d = delivery('busy@later.test');
    const error = await failureOf(channel.send(d));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/^SMTP 451 after RCPT TO \(temporary\)/);
    expect(await channel.send({ ...d, attempts: 1 })).toEqual({ delivered: true });
    await server.waitForMessage((m) => m.envelope.to.includes('busy@later.test'), 'the retry');
    expect(server.messages.filter((m) => m.envelope.to.includes('busy@later.test'))).toHaveLength(1);
  });

  it('fails with a plain error while the server is down, and delivers again once it is back', async () => {
    const port = await findFreePort();
    let flaky = await startSmtpServer({ port });
    servers.push(flaky);
    const channel = open(plain(flaky));
    expect(await channel.send(delivery('first@care.test'))).toEqual({ delivered: true }); // a pooled connection is open

    await flaky.kill();
    const error = await failureOf(channel.send(delivery('second@care.test')));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    // Which one depends on where the pooled socket was when the server went: refused, reset, or
    // nodemailer's ECONNECTION ("socket is already destroyed", seen once in CI).
    expect(error.message).toMatch(/ECONNREFUSED|ECONNRESET|ECONNECTION|closed|ESOCKET/);

    flaky = await startSmtpServer({ port });
    servers.push(flaky);
    expect(await channel.send(delivery('third@care.test'))).toEqual({ delivered: true });
    await flaky.waitForMessage((m) => m.envelope.to.includes('third@care.test'), 'after the restart');
  });

  it('gives up on a server that never greets within its timeout, with a plain error', async () => {
    const silent = await startSmtpServer({ silent: true });
    servers.push(silent);
    const channel = open(plain(silent));
    const started = Date.now();
    const error = await failureOf(channel.send(delivery('late@care.test')));
    const waited = Date.now() - started;
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(waited).toBeGreaterThanOrEqual(9_000);
    expect(waited).toBeLessThan(20_000);
  }, 30_000);

  it('logs in with the user and password of SMTP_URL, and never logs or returns the password', async () => {
    const password = 'p@ss:w/rd%secret';
    const authServer = await startSmtpServer({ auth: `lantern:${password}` });
    servers.push(authServer);
    const logged: string[] = [];
    const capture: LoggerService = {
      log: (m: unknown) => logged.push(String(m)),
      error: (m: unknown) => logged.push(String(m)),
      warn: (m: unknown) => logged.push(String(m)),
    };
    Logger.overrideLogger(capture);
    try {
      const url = `smtp://lantern:${encodeURIComponent(password)}@127.0.0.1:${authServer.port}`;
      const channel = open({ SMTP_URL: url, SMTP_REQUIRE_TLS: 'false' });
      expect(await channel.send(delivery('auth@care.test'))).toEqual({ delivered: true });
      const mail = await authServer.waitForMessage((m) => m.envelope.to.includes('auth@care.test'), 'after login');
      expect(mail.user).toBe('lantern');

      const wrong = open({
        SMTP_URL: `smtp://lantern:${encodeURIComponent('not-it')}@127.0.0.1:${authServer.port}`,
        SMTP_REQUIRE_TLS: 'false',
      });
      const error = await failureOf(wrong.send(delivery('auth2@care.test')));
      // A wrong login is the operator's to fix: retried, not ended.
      expect(error).not.toBeInstanceOf(PermanentDeliveryError);
      expect(error.message).toMatch(/^SMTP EAUTH/);
      expect(error.message).not.toContain('not-it');
    } finally {
      Logger.overrideLogger(new ConsoleLogger());
    }
    expect(logged.some((line) => line.includes(`127.0.0.1:${authServer.port}`))).toBe(true);
    expect(logged.join('\n')).not.toContain('secret');
  });

  it('sends nothing in clear by default: SMTP_REQUIRE_TLS refuses a server without STARTTLS', async () => {
    const channel = open({ SMTP_URL: `smtp://127.0.0.1:${server.port}` });
    const before = server.messages.length;
    const error = await failureOf(channel.send(delivery('clear@care.test')));
    expect(error).not.toBeInstanceOf(PermanentDeliveryError);
    expect(error.message).toMatch(/STARTTLS/i);
    expect(server.messages.length).toBe(before);
  });
});

/**
 * The e-mail channel in the chain (contract §4.3), end to end: a CGM reading over MQTT → ingest →
 * a high alert → the api's chain → the dispatcher → a real SMTP server process. The e-mail row's
 * `deliveredAt` is the server's acceptance.
 */
describe('e-mail deliveries of the escalation chain', () => {
  const password = 'a-long-password-1';
  const auth = (token: string) => ({ Authorization: `Bearer ${token}` });
  let smtp: SmtpTestServer;
  let api: ApiFixture;
  let ingest: INestApplicationContext;
  let publisher: MqttClient;
  let admin: string;
  let clinician: string;
  let patient: string;
  let cgm: string;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    api = await startApi(
      {
        SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
        SMTP_REQUIRE_TLS: 'false',
        EMAIL_FROM: 'Lantern <alerts@clinic.test>',
      },
      { asAppRole: true },
    );
    admin = await api.login(ADMIN_EMAIL, ADMIN_PASSWORD);
    const data = new ApiData(api.http, admin);
    ({ patientId: patient, cgmId: cgm } = await data.clinic(password));
    // A colleague whose mailbox no longer exists: the server answers 550.
    const gone = await data.user({
      email: 'moved@bounce.test',
      password,
      role: 'clinician',
      displayName: 'Dr Moved',
    });
    await data.careTeam(patient, gone);
    clinician = await api.login('reyes@clinic.test', password);
    await api.http
      .put(`/api/v1/patients/${patient}/escalation`)
      .set(auth(clinician))
      .send(DEFAULT_ESCALATION)
      .expect(200);
    ingest = await startIngest(
      ingestEnvironment({ databaseUrl: process.env.DATABASE_URL!, mqttUrl: api.mqttUrl, topicRoot: api.topicRoot }),
    );
    publisher = await connectMqtt(api.mqttUrl);
  }, 60_000);

  afterAll(async () => {
    await publisher?.endAsync();
    await ingest?.close();
    await api?.close();
    await smtp?.stop();
  });

  it('e-mails the care team and the patient when readings raise a high alert, deliveredAt = SMTP acceptance', async () => {
    await publisher.publishAsync(
      topicsFor(api.topicRoot).telemetry(cgm),
      JSON.stringify({
        seq: 1,
        readings: [{ metric: 'glucose', value: 45, unit: 'mg/dL', ts: new Date(Date.now() - 1000).toISOString() }],
      }),
      { qos: 1 },
    );
    const toClinician = await smtp.waitForMessage(
      (m) => m.envelope.to.includes('reyes@clinic.test'),
      'the clinician told of the urgent low',
      20_000,
    );
    const [alert] = await api.db.query<{ id: string }[]>(
      `SELECT id::text FROM alerts WHERE patient_id = $1 AND rule = 'glucose.urgent_low'`,
      [patient],
    );
    const raised = bodyOf<AlertResource>(
      await api.http.get(`/api/v1/alerts/${alert.id}`).set(auth(clinician)).expect(200),
    );
    expect(toClinician.subject).toBe('High alert for Ana Souza: Glucose 45 mg/dL — below 54 (urgent low)');
    expect(toClinician.text).toContain('Ana Souza has a high-priority alert.');

    const deliveries = async () =>
      bodyOf<AlertDeliveryResource[]>(
        await api.http.get(`/api/v1/alerts/${alert.id}/deliveries`).set(auth(clinician)).expect(200),
      );
    const emails = await waitFor(
      async () => {
        const rows = (await deliveries()).filter((d) => d.channel === 'email');
        return rows.length === 3 && rows.every((d) => d.deliveredAt ?? d.failedAt) ? rows : undefined;
      },
      'three e-mail deliveries settled (patient, two clinicians)',
      20_000,
    );
    const byName = (name: string) => emails.find((d) => d.recipient.name === name);
    const reyesRow = byName('Dr Reyes');
    expect(reyesRow).toMatchObject({ recipient: { role: 'clinician' }, channel: 'email', attempts: 1 });
    // The message that arrived is this row's: its id is in the headers.
    expect(toClinician.headers['x-lantern-delivery']).toBe(reyesRow!.id);
    expect(toClinician.messageId).toBe(`<delivery-${reyesRow!.id}@clinic.test>`);
    const delivered = Date.parse(reyesRow!.deliveredAt!);
    expect(delivered).toBeGreaterThanOrEqual(Date.parse(reyesRow!.sentAt));
    expect(delivered).toBeGreaterThanOrEqual(Date.parse(raised.raisedAt!));

    // The patient's own e-mail, in plain words.
    const toPatient = await smtp.waitForMessage((m) => m.envelope.to.includes('ana@home.test'), 'the patient told');
    expect(toPatient.subject).toBe('Your glucose (blood sugar) is very low');
    expect(emails.find((d) => d.recipient.role === 'patient')?.deliveredAt).toBeDefined();

    // A 550 ends that delivery failed at the first attempt, with the server's reason, not retried.
    expect(byName('Dr Moved')).toMatchObject({ recipient: { role: 'clinician' }, attempts: 1 });
    expect(byName('Dr Moved')!.deliveredAt).toBeUndefined();
    expect(byName('Dr Moved')!.failedAt).toBeDefined();
    expect(byName('Dr Moved')!.error).toMatch(/^SMTP 550 after RCPT TO: 550 5\.1\.1 <address>: mailbox unavailable$/);
    expect(smtp.messages.filter((m) => m.envelope.to.includes('moved@bounce.test'))).toHaveLength(0);

    const first = Math.min(...emails.filter((d) => d.deliveredAt).map((d) => Date.parse(d.deliveredAt!)));
    console.log(`email first receipt: ${first - Date.parse(raised.raisedAt!)} ms`);
  }, 45_000);
});
