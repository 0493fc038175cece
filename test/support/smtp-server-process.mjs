// A real SMTP server for tests, run as its own process (test/support/smtp-server.ts starts it):
// `smtp-server` (nodemailer's authors) on 127.0.0.1, answering by recipient domain as mail servers do:
//   *@bounce.test  550 at RCPT TO (no such mailbox: permanent)
//   *@later.test   451 at RCPT TO the first time an address is tried (greylisting), 250 after
//   any other      250
// Every accepted message is written to stdout as one JSON line {"message": {envelope, messageId,
// subject, text, headers, raw}}; the first line is {"listening": port}.
// Options: --port N (default: any free port), --auth user:password (AUTH required, plain text
// allowed), --silent (accept TCP connections and never greet: a hung server).
import { createServer } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const args = process.argv.slice(2);
const option = (name) => {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
};
const port = Number(option('--port') ?? 0);
const auth = option('--auth');
const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

const failed = (message, responseCode) => Object.assign(new Error(message), { responseCode });

/** Addresses of later.test already told to come back. */
const greylisted = new Set();

function onRcptTo(address, _session, callback) {
  const to = address.address.toLowerCase();
  if (to.endsWith('@bounce.test')) return callback(failed(`5.1.1 <${to}>: mailbox unavailable`, 550));
  if (to.endsWith('@later.test') && !greylisted.has(to)) {
    greylisted.add(to);
    return callback(failed(`4.7.1 <${to}>: greylisted, try again later`, 451));
  }
  return callback();
}

/** A parsed header as text: addresses as written, dates in ISO-8601, the rest as it came. */
const headerText = (value) =>
  typeof value === 'string'
    ? value
    : value instanceof Date
      ? value.toISOString()
      : typeof value?.text === 'string'
        ? value.text
        : typeof value?.value === 'string'
          ? value.value
          : JSON.stringify(value);

function onData(stream, session, callback) {
  const chunks = [];
  stream.on('data', (chunk) => chunks.push(chunk));
  stream.on('end', () => {
    const raw = Buffer.concat(chunks).toString('utf8');
    simpleParser(raw)
      .then((parsed) => {
        emit({
          message: {
            envelope: {
              from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
              to: session.envelope.rcptTo.map((r) => r.address),
            },
            user: session.user ?? null,
            messageId: parsed.messageId ?? null,
            subject: parsed.subject ?? null,
            text: parsed.text ?? null,
            headers: Object.fromEntries([...parsed.headers].map(([key, value]) => [key, headerText(value)])),
            raw,
          },
        });
        callback();
      })
      .catch((error) => callback(failed(`4.3.0 cannot parse the message: ${error.message}`, 451)));
  });
}

const server = args.includes('--silent')
  ? createServer((socket) => socket.on('error', () => undefined))
  : new SMTPServer({
      banner: 'lantern test server',
      disabledCommands: auth ? ['STARTTLS'] : ['STARTTLS', 'AUTH'],
      authOptional: !auth,
      allowInsecureAuth: true,
      logger: false,
      onAuth(credentials, _session, callback) {
        const [user, ...rest] = auth.split(':');
        if (credentials.username === user && credentials.password === rest.join(':')) return callback(null, { user });
        return callback(failed('5.7.8 authentication failed', 535));
      },
      onRcptTo,
      onData,
    });
server.on('error', (error) => {
  process.stderr.write(`smtp-server: ${error.message}\n`);
  process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  const address = (server.server ?? server).address();
  emit({ listening: address.port });
});
process.on('SIGTERM', () => process.exit(0));
