import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes, type AedesOptions, type AuthenticateError, type Client } from 'aedes';
import { decideMqttLogin, isDeviceTopicAllowed, type DeviceCredential } from '@lantern/auth';
import { decodeInternalEvent, topicsFor } from '@lantern/messaging';
import type { DeviceCredentialLookup } from './device-credential.lookup.js';
import { PortTakenError } from './port-taken.error.js';

export interface EmbeddedBrokerOptions {
  /** Plain MQTT (no TLS). */
  readonly port: number;
  /** Listening address of plain MQTT; default all interfaces. `npm start` keeps it on loopback. */
  readonly host?: string;
  /** MQTT over TLS (`mqtts`), what devices on the network use; unset: no TLS listener. */
  readonly tls?: EmbeddedBrokerTlsOptions;
  readonly topicRoot: string;
  /** Lantern's own services authenticate with this credential and may publish and subscribe anywhere. */
  readonly serviceUsername: string;
  readonly servicePassword: string;
  readonly devices: DeviceCredentialLookup;
  /** How long a looked-up device credential is reused (a revocation event drops it at once); default 60 s. */
  readonly credentialCacheTtlMs?: number;
  /** Revocations, refused client ids and user names, refused operations, one line each. */
  readonly onLog?: (line: string) => void;
  /**
   * Where sessions, subscriptions, retained and queued messages are kept (an AedesPostgresPersistence:
   * they survive a restart of the broker). Unset: in memory, gone when the broker stops.
   */
  readonly persistence?: {
    brokerOptions(authorizePublish: AedesOptions['authorizePublish']): AedesOptions;
  };
}

export interface EmbeddedBrokerTlsOptions {
  readonly port: number;
  /** Default all interfaces. */
  readonly host?: string;
  /** PEM certificate (chain allowed) and private key. */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
}

export interface RunningEmbeddedBroker {
  /** Plain-MQTT URL for Lantern's own clients (loopback unless the plain listener is bound elsewhere). */
  readonly url: string;
  readonly port: number;
  /** Port of the TLS listener, when there is one. */
  readonly tlsPort?: number;
  /** Closes every connection and the listener (idempotent). */
  stop(): Promise<void>;
}

type Identity = { readonly kind: 'service' } | { readonly kind: 'device'; readonly deviceId: string; revoked: boolean };

const MAX_CACHED_CREDENTIALS = 100_000;

function refusal(returnCode: 2 | 3 | 4 | 5, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode });
}

/** A client-chosen string for a log line: quoted and escaped (no forged lines), and cut short. */
function printable(text: string): string {
  return JSON.stringify(text.length > 100 ? `${text.slice(0, 100)}…` : text);
}

/**
 * Starts the embedded MQTT 3.1.1 broker (aedes on a TCP port) that enforces contract §1: devices
 * authenticate with their id (lowercase canonical) and secret (checked against the devices table,
 * decommissioned ones refused), connect with their own id as client id, and may only publish their
 * own telemetry/status and subscribe to their own errors topic; the service credential may do
 * anything, with any client id. `{root}/internal/device-revoked` `{ deviceId }` from the
 * service disconnects that device at once and forgets its cached credential.
 * Throws {@link PortTakenError} when the port is in use.
 */
export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<RunningEmbeddedBroker> {
  const { topicRoot: root, serviceUsername, servicePassword, devices, credentialCacheTtlMs = 60_000, onLog } = options;
  const identities = new WeakMap<Client, Identity>();
  const connectionsByDevice = new Map<string, Set<Client>>();
  const cache = new Map<string, { credential: DeviceCredential; expiresAt: number }>();
  // Bumped by every revocation: a lookup that overlapped one may have read the old secret, so it is redone.
  let revocationEpoch = 0;

  async function findCredential(deviceId: string): Promise<DeviceCredential | undefined> {
    const cached = cache.get(deviceId);
    if (cached && cached.expiresAt > Date.now()) return cached.credential;
    cache.delete(deviceId);
    for (;;) {
      const epoch = revocationEpoch;
      const credential = await devices.find(deviceId);
      if (epoch !== revocationEpoch) continue;
      if (credential) {
        if (cache.size >= MAX_CACHED_CREDENTIALS) cache.delete(cache.keys().next().value!);
        cache.set(deviceId, { credential, expiresAt: Date.now() + credentialCacheTtlMs });
      }
      return credential;
    }
  }

  const authenticate: AedesOptions['authenticate'] = (client, username, password, done) => {
    decideMqttLogin(
      { username: username ?? '', password: password?.toString('utf8') ?? '', clientId: client.id },
      { username: serviceUsername, password: servicePassword },
      findCredential,
    ).then(
      (decision) => {
        if (!decision.allowed) {
          // Checked after the credentials, before aedes takes over a connection or session with this client id:
          // a device's client id is its own id, so it can reach neither another device's connection nor a
          // service's session (the ingest's queue).
          if (decision.refusal === 'client-id') {
            onLog?.(`refused client id ${printable(client.id)} for device ${username}: a device's client id is its id`);
            return done(refusal(2, 'client id must be the device id'), false);
          }
          if (decision.refusal === 'misspelt-id') onLog?.(decision.reason);
          return done(refusal(4, 'bad user name or password'), false);
        }
        const identity: Identity =
          decision.identity.kind === 'service'
            ? { kind: 'service' }
            : { kind: 'device', deviceId: decision.identity.deviceId, revoked: false };
        identities.set(client, identity);
        if (identity.kind === 'device') {
          const connections = connectionsByDevice.get(identity.deviceId) ?? new Set<Client>();
          for (const connection of connections) if (connection.closed) connections.delete(connection);
          connectionsByDevice.set(identity.deviceId, connections.add(client));
        }
        done(null, true);
      },
      (error: unknown) => {
        onLog?.(`device lookup failed: ${error instanceof Error ? error.message : String(error)}`);
        done(refusal(3, 'server unavailable'), false);
      },
    );
  };

  const authorizePublish: AedesOptions['authorizePublish'] = (client, packet, callback) => {
    const identity = client ? identities.get(client) : undefined;
    if (identity?.kind === 'service') return callback(null);
    if (identity && !identity.revoked && isDeviceTopicAllowed(root, identity.deviceId, 'publish', packet.topic))
      return callback(null);
    // MQTT 3.1.1 has no negative PUBACK: the broker closes the connection.
    onLog?.(
      `refused publish to '${packet.topic}' by ${identity?.kind === 'device' ? `device ${identity.deviceId}` : 'an unknown client'}`,
    );
    callback(new Error('publish not authorized'));
  };

  const authorizeSubscribe: AedesOptions['authorizeSubscribe'] = (client, subscription, callback) => {
    const identity = identities.get(client);
    const allowed =
      identity?.kind === 'service' ||
      (identity?.kind === 'device' &&
        !identity.revoked &&
        isDeviceTopicAllowed(root, identity.deviceId, 'subscribe', subscription.topic));
    // A null subscription is a SUBACK failure (0x80) for that filter; the connection stays.
    callback(null, allowed ? subscription : null);
  };

  const broker = await Aedes.createBroker({
    authenticate,
    authorizeSubscribe,
    // A persistence wraps authorizePublish: it makes an authorised QoS 1 PUBLISH durable before aedes PUBACKs it.
    ...(options.persistence?.brokerOptions(authorizePublish) ?? { authorizePublish }),
  });
  broker.on('clientDisconnect', (client) => {
    const identity = identities.get(client);
    if (identity?.kind === 'device') connectionsByDevice.get(identity.deviceId)?.delete(client);
  });

  function revoke(deviceId: string): void {
    revocationEpoch += 1;
    cache.delete(deviceId);
    const connections = connectionsByDevice.get(deviceId) ?? new Set<Client>();
    connectionsByDevice.delete(deviceId);
    for (const client of connections) {
      const identity = identities.get(client);
      if (identity?.kind === 'device') identity.revoked = true;
      client.close();
    }
    onLog?.(`device ${deviceId} revoked: ${connections.size} connection(s) closed`);
  }

  await new Promise<void>((resolve) =>
    broker.subscribe(
      topicsFor(root).deviceRevoked,
      (packet, done) => {
        const event = decodeInternalEvent('deviceRevoked', packet.payload);
        if (event) revoke(event.deviceId.toLowerCase());
        else onLog?.('ignored a device-revoked event without a device id');
        done();
      },
      resolve,
    ),
  );

  return serve(broker, options);
}

/** Starts an aedes broker that lets anyone do anything: for tests and development only. */
export async function startAnonymousBroker(options: {
  port: number;
  host?: string;
  tls?: EmbeddedBrokerTlsOptions;
}): Promise<RunningEmbeddedBroker> {
  const broker = await Aedes.createBroker();
  return serve(broker, options);
}

/** Puts `broker` on its plain listener and, when configured, its TLS one; closes the broker if either cannot bind. */
async function serve(
  broker: Aedes,
  options: { port: number; host?: string; tls?: EmbeddedBrokerTlsOptions },
): Promise<RunningEmbeddedBroker> {
  const servers: Server[] = [createServer((socket) => broker.handle(socket))];
  if (options.tls) {
    const { cert, key } = options.tls;
    const secure = createTlsServer({ cert, key, minVersion: 'TLSv1.2' }, (socket) => broker.handle(socket));
    // A failed handshake (a client that does not trust us, a scanner) only ends that connection:
    // not worth a log line each.
    secure.on('tlsClientError', () => undefined);
    servers.push(secure);
  }
  try {
    await listen(servers[0], options.port, options.host, 'mqtt');
    if (options.tls) await listen(servers[1], options.tls.port, options.tls.host, 'mqtts');
  } catch (error) {
    for (const server of servers) if (server.listening) server.close();
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  return running(servers, broker, options.port);
}

function listen(server: Server, port: number, host: string | undefined, kind: 'mqtt' | 'mqtts'): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new PortTakenError(port, kind) : error),
    );
    server.listen({ port, host, exclusive: true }, () => resolve());
  });
}

function running(servers: readonly Server[], broker: Aedes, requestedPort: number): RunningEmbeddedBroker {
  const sockets = new Set<Socket>();
  for (const server of servers)
    server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
  const [plain, secure] = servers.map((server) => server.address());
  const port = typeof plain === 'object' && plain !== null ? plain.port : requestedPort;
  let stopping: Promise<void> | undefined;
  return {
    url: `mqtt://${clientHost(plain)}:${port}`,
    port,
    tlsPort: typeof secure === 'object' && secure !== null ? secure.port : undefined,
    stop: () =>
      (stopping ??= (async () => {
        const closed = Promise.all(
          servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))),
        );
        await new Promise<void>((resolve) => broker.close(() => resolve()));
        // Connections that never sent CONNECT (or never finished the TLS handshake) are not aedes
        // clients; they would keep the listener open.
        for (const socket of sockets) socket.destroy();
        await closed;
      })()),
  };
}

/** Where a local client reaches a listener: loopback when it listens on every interface, else its address. */
function clientHost(address: ReturnType<Server['address']>): string {
  if (typeof address !== 'object' || address === null) return '127.0.0.1';
  if (address.address === '0.0.0.0' || address.address === '::') return '127.0.0.1';
  return address.family === 'IPv6' ? `[${address.address}]` : address.address;
}
