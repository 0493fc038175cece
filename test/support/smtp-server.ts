import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { WaitAbandoned, waitFor } from './wait.js';

/** One message the test SMTP server accepted (see test/support/smtp-server-process.mjs). */
export interface ReceivedMail {
  readonly envelope: { readonly from: string | null; readonly to: readonly string[] };
  /** The login the client used, when the server asked for one. */
  readonly user: string | null;
  readonly messageId: string | null;
  readonly subject: string | null;
  readonly text: string | null;
  /** Header names in lower case. */
  readonly headers: Readonly<Record<string, string>>;
  readonly raw: string;
  /** When this process read it from the server's output (Date.now()). */
  readonly receivedAt: number;
}

export interface SmtpTestServer {
  readonly port: number;
  /** Every message accepted so far, in order. */
  readonly messages: readonly ReceivedMail[];
  /** Waits for a message the predicate accepts and returns it. */
  waitForMessage(match: (mail: ReceivedMail) => boolean, what: string, timeoutMs?: number): Promise<ReceivedMail>;
  /** SIGKILL, as a crashed server: clients see their connection drop and the port refuse. */
  kill(): Promise<void>;
  stop(): Promise<void>;
}

const SCRIPT = fileURLToPath(new URL('./smtp-server-process.mjs', import.meta.url));

/**
 * Starts test/support/smtp-server-process.mjs as a child process (a real SMTP server: `smtp-server` behind a
 * TCP port, not a mock) and collects what it accepts. `port`: a fixed one (to come back on after a
 * kill); `auth`: "user:password" the server requires; `silent`: a server that accepts connections
 * and never greets.
 */
export async function startSmtpServer(
  options: { port?: number; auth?: string; silent?: boolean } = {},
): Promise<SmtpTestServer> {
  const args = [SCRIPT];
  if (options.port !== undefined) args.push('--port', String(options.port));
  if (options.auth !== undefined) args.push('--auth', options.auth);
  if (options.silent) args.push('--silent');
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: ReceivedMail[] = [];
  let port: number | undefined;
  let pending = '';
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    let newline: number;
    while ((newline = pending.indexOf('\n')) !== -1) {
      const line = JSON.parse(pending.slice(0, newline)) as {
        listening?: number;
        message?: Omit<ReceivedMail, 'receivedAt'>;
      };
      pending = pending.slice(newline + 1);
      if (line.listening !== undefined) port = line.listening;
      if (line.message) messages.push({ ...line.message, receivedAt: Date.now() });
    }
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new WaitAbandoned(`test SMTP server exited: ${stderr.trim()}`);
      return port;
    },
    () => `the test SMTP server to listen (${stderr.trim() || 'no output'})`,
    10_000,
  );
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
  };
  return {
    port: port!,
    messages,
    waitForMessage: (match, what, timeoutMs = 10_000) =>
      waitFor(() => messages.find(match), `an e-mail: ${what}`, timeoutMs),
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
  };
}
