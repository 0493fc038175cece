import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import { generate, parser, type Packet } from 'mqtt-packet';
import type { DeviceCredentials } from './device-client.js';

export interface LoadConnectionsOptions {
  /** `mqtt://host:port` (or `tcp://`), or `mqtts://host:port` for MQTT over TLS (3.1.1 either way). */
  mqttUrl: string;
  /** With mqtts://: the CA certificate(s) trusted instead of the system's (the broker's self-signed one, say). */
  ca?: Buffer;
  /** Each connection's credentials (CONNECT's client id, username and password): one connection per entry. */
  devices: readonly DeviceCredentials[];
  /** A QoS 1 publish was settled: acknowledged by the broker (PUBACK), or given up at close. */
  onSettled: (acked: boolean) => void;
  /** A failed connection attempt, a refused CONNACK, a socket or protocol error, a keepalive timeout. */
  onError: () => void;
  keepaliveSec?: number;
  reconnectPeriodMs?: number;
  connectTimeoutMs?: number;
}

type ConnectionState = 'idle' | 'connecting' | 'connected' | 'ended';

interface InFlight {
  readonly topic: string;
  readonly payload: string;
}

/** One connection's MQTT session: a socket and a few numbers; everything else is shared by the pool. */
interface DeviceConnection {
  readonly index: number;
  state: ConnectionState;
  socket: Socket | undefined;
  /** False while the socket's write buffer is over its high-water mark (until 'drain'). */
  writable: boolean;
  /** The first connection attempt has not been answered yet (its failure is final, not retried). */
  firstAttempt: boolean;
  settleFirst: ((connected: boolean) => void) | undefined;
  /** When `state` is 'connecting': the attempt's start; when 'idle': when to reconnect. */
  since: number;
  lastSentAt: number;
  /** When the unanswered PINGREQ was sent (0: none outstanding). */
  pingSentAt: number;
  nextPacketId: number;
  /** QoS 1 publishes awaiting PUBACK: packet id → topic and payload (resent with DUP after a reconnect). */
  inFlight: Map<number, InFlight> | undefined;
  /** Bytes of an incomplete packet left over from the last read. */
  partial: Buffer | undefined;
}

const PINGREQ = generate({ cmd: 'pingreq' });
const DISCONNECT = generate({ cmd: 'disconnect' });
const TICK_MS = 500;
/** Reconnections started per tick, so a broker restart does not see every device at once. */
const RECONNECTS_PER_TICK = 250;

/**
 * The load mode's device connections: one TCP socket per connection (a device's own, unless the runner
 * shares them) speaking just the MQTT 3.1.1 it needs (CONNECT with username = device id and password
 * = secret, QoS 1 PUBLISH/PUBACK,
 * PINGREQ, DISCONNECT), packets built and parsed by mqtt-packet. A full mqtt.js client per device
 * costs ~70 KiB; this keeps a socket and a small record each, with one parser and one timer
 * (keepalive pings, connect timeouts, reconnects) shared by all of them.
 */
export class LoadConnections {
  private readonly connections: (DeviceConnection | undefined)[] = [];
  private readonly host: string;
  private readonly port: number;
  private readonly tls: boolean;
  private readonly keepaliveMs: number;
  private readonly reconnectPeriodMs: number;
  private readonly connectTimeoutMs: number;
  private readonly parser = parser({ protocolVersion: 4 });
  /** The connection whose bytes the shared parser is reading. */
  private parsing: DeviceConnection | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: LoadConnectionsOptions) {
    const url = new URL(options.mqttUrl);
    if (url.protocol !== 'mqtt:' && url.protocol !== 'tcp:' && url.protocol !== 'mqtts:')
      throw new Error(`load mode connects over TCP or TLS (mqtt:// or mqtts://host:port), not ${url.protocol}//`);
    this.tls = url.protocol === 'mqtts:';
    this.host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.port = Number(url.port || (this.tls ? 8883 : 1883));
    this.keepaliveMs = (options.keepaliveSec ?? 60) * 1000;
    this.reconnectPeriodMs = options.reconnectPeriodMs ?? 2000;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 30_000;
    this.watchParser();
  }

  get size(): number {
    return this.connections.length;
  }

  /** Devices with an accepted session right now. */
  connectedCount(): number {
    let count = 0;
    for (const c of this.connections) if (c?.state === 'connected') count++;
    return count;
  }

  /** Connected, and its socket is taking more bytes without buffering past its high-water mark. */
  isReady(i: number): boolean {
    const c = this.connections[i];
    return c !== undefined && c.state === 'connected' && c.writable;
  }

  /**
   * Opens device `i`'s connection and resolves once the broker answers: true on CONNACK 0, false
   * when it refuses, the socket fails or closes first, or the attempt times out. A device whose
   * first attempt fails stays down; one that loses an established session reconnects.
   */
  connect(i: number): Promise<boolean> {
    this.timer ??= setInterval(() => this.tick(), TICK_MS).unref();
    const c: DeviceConnection = {
      index: i,
      state: 'idle',
      socket: undefined,
      writable: false,
      firstAttempt: true,
      settleFirst: undefined,
      since: 0,
      lastSentAt: 0,
      pingSentAt: 0,
      nextPacketId: 0,
      inFlight: undefined,
      partial: undefined,
    };
    this.connections[i] = c;
    return new Promise((resolve) => {
      c.settleFirst = resolve;
      this.open(c);
    });
  }

  /** Publishes `payload` on `topic` at QoS 1 over connection `i` (which must be ready). */
  publish(i: number, topic: string, payload: string, now: number): void {
    const c = this.connections[i]!;
    const inFlight = (c.inFlight ??= new Map());
    let id = c.nextPacketId;
    do id = (id % 65535) + 1;
    while (inFlight.has(id));
    c.nextPacketId = id;
    const message = { topic, payload };
    inFlight.set(id, message);
    this.write(c, publishPacket(id, message, false), now);
  }

  /**
   * Ends every connection (DISCONNECT, then close) and stops reconnecting. Publishes still awaiting
   * their PUBACK are settled as not acknowledged. Resolves when every socket is closed.
   */
  async close(timeoutMs = 5000): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const closing: Promise<void>[] = [];
    for (const c of this.connections) {
      if (!c) continue;
      const wasConnected = c.state === 'connected';
      c.state = 'ended';
      const socket = c.socket;
      if (socket && !socket.destroyed) {
        closing.push(new Promise<void>((resolve) => socket.once('close', () => resolve())));
        if (wasConnected) socket.end(DISCONNECT);
        else socket.destroy();
      }
      c.writable = false;
      this.settleFirstAttempt(c, false);
    }
    let deadline: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(closing),
      new Promise<void>((resolve) => (deadline = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(deadline);
    for (const c of this.connections) {
      if (!c) continue;
      c.socket?.destroy();
      c.socket = undefined;
      for (let k = c.inFlight?.size ?? 0; k > 0; k--) this.options.onSettled(false);
      c.inFlight = undefined;
    }
  }

  private open(c: DeviceConnection): void {
    const { deviceId, secret } = this.options.devices[c.index];
    c.state = 'connecting';
    c.since = Date.now();
    c.writable = false;
    c.partial = undefined;
    c.pingSentAt = 0;
    const socket = this.tls
      ? connectTls({
          host: this.host,
          port: this.port,
          // The certificate is checked as mqtt.js checks it: chain to `ca` (or the system's CAs) and the host name.
          ...(isIP(this.host) === 0 && { servername: this.host }),
          ...(this.options.ca && { ca: this.options.ca }),
        }).setNoDelay(true)
      : connect({ host: this.host, port: this.port, noDelay: true });
    c.socket = socket;
    // Over TLS the CONNECT goes once the handshake (and the certificate check) has succeeded.
    socket.on(this.tls ? 'secureConnect' : 'connect', () => {
      c.writable = true;
      const packet: Packet = {
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: deviceId, // a device's client id is its id (the broker refuses any other)
        username: deviceId,
        password: Buffer.from(secret),
        clean: true,
        keepalive: this.keepaliveMs / 1000,
      };
      this.write(c, generate(packet), Date.now());
    });
    socket.on('data', (chunk: Buffer) => this.read(c, chunk));
    socket.on('drain', () => (c.writable = true));
    // Errors are counted once per failed attempt (on 'close') or once per lost session.
    socket.on('error', () => {
      if (c.state === 'connected') this.options.onError();
    });
    socket.on('close', () => this.closed(c, socket));
  }

  private closed(c: DeviceConnection, socket: Socket): void {
    if (c.socket !== socket) return;
    c.socket = undefined;
    c.writable = false;
    if (c.state === 'ended') return;
    if (c.state === 'connecting') {
      this.options.onError();
      if (c.firstAttempt) {
        c.state = 'ended';
        this.settleFirstAttempt(c, false);
        return;
      }
    }
    c.state = 'idle';
    c.since = Date.now() + this.reconnectPeriodMs;
  }

  private settleFirstAttempt(c: DeviceConnection, connected: boolean): void {
    c.firstAttempt = false;
    const settle = c.settleFirst;
    c.settleFirst = undefined;
    settle?.(connected);
  }

  private write(c: DeviceConnection, packet: Buffer, now: number): void {
    c.lastSentAt = now;
    if (!c.socket!.write(packet)) c.writable = false;
  }

  /** Feeds the complete packets of `chunk` (and what was left over before it) to the shared parser. */
  private read(c: DeviceConnection, chunk: Buffer): void {
    const bytes = c.partial ? Buffer.concat([c.partial, chunk]) : chunk;
    const complete = completePacketsLength(bytes);
    if (complete < 0) {
      this.drop(c, true);
      return;
    }
    c.partial = complete < bytes.length ? Buffer.from(bytes.subarray(complete)) : undefined;
    if (complete === 0) return;
    this.parsing = c;
    try {
      this.parser.parse(complete === bytes.length ? bytes : bytes.subarray(0, complete));
    } finally {
      this.parsing = undefined;
    }
  }

  private watchParser(): void {
    this.parser.on('packet', (packet: Packet) => {
      if (this.parsing) this.received(this.parsing, packet);
    });
    // The parser starts afresh on its next input after an error; only the offending connection goes.
    this.parser.on('error', () => {
      if (this.parsing) this.drop(this.parsing, true);
    });
  }

  /** Only CONNACK and PUBACK matter here; any packet at all answers an outstanding PINGREQ. */
  private received(c: DeviceConnection, packet: Packet): void {
    c.pingSentAt = 0;
    if (packet.cmd === 'puback') {
      if (packet.messageId !== undefined && c.inFlight?.delete(packet.messageId)) this.options.onSettled(true);
    } else if (packet.cmd === 'connack' && c.state === 'connecting') {
      if (packet.returnCode !== 0) {
        this.drop(c, false);
        return;
      }
      c.state = 'connected';
      if (c.firstAttempt) this.settleFirstAttempt(c, true);
      // QoS 1 still owed from the lost session goes again, flagged as a duplicate.
      if (c.inFlight)
        for (const [messageId, message] of c.inFlight)
          this.write(c, publishPacket(messageId, message, true), Date.now());
    }
  }

  /**
   * Closes `c`'s socket; 'close' then counts a failed attempt or schedules the reconnect. A lost
   * session counts as an error here when `error` is set.
   */
  private drop(c: DeviceConnection, error: boolean): void {
    if (error && c.state === 'connected') this.options.onError();
    c.writable = false;
    c.socket?.destroy();
  }

  /** Keepalive pings, dead-connection detection, connect timeouts and due reconnects, for all devices. */
  private tick(): void {
    const now = Date.now();
    let reconnects = RECONNECTS_PER_TICK;
    for (const c of this.connections) {
      if (!c) continue;
      switch (c.state) {
        case 'connected':
          if (c.pingSentAt > 0 && now - c.pingSentAt > this.keepaliveMs) this.drop(c, true);
          else if (c.pingSentAt === 0 && now - c.lastSentAt >= this.keepaliveMs) {
            c.pingSentAt = now;
            this.write(c, PINGREQ, now);
          }
          break;
        case 'connecting':
          if (now - c.since > this.connectTimeoutMs) this.drop(c, false);
          break;
        case 'idle':
          if (c.since <= now && reconnects > 0) {
            reconnects--;
            this.open(c);
          }
          break;
        case 'ended':
          break;
      }
    }
  }
}

function publishPacket(messageId: number, { topic, payload }: InFlight, dup: boolean): Buffer {
  return generate({ cmd: 'publish', topic, payload, qos: 1, messageId, dup, retain: false });
}

/**
 * Length of the complete MQTT packets at the start of `bytes` (what follows is the beginning of
 * one not fully received yet), or -1 when a remaining-length field is malformed.
 */
export function completePacketsLength(bytes: Buffer): number {
  let pos = 0;
  while (pos < bytes.length) {
    let length = 0;
    let multiplier = 1;
    let i = pos + 1;
    for (;;) {
      if (i >= bytes.length) return pos;
      const b = bytes[i++];
      length += (b & 0x7f) * multiplier;
      if ((b & 0x80) === 0) break;
      multiplier *= 128;
      if (multiplier > 128 ** 3) return -1;
    }
    if (i + length > bytes.length) return pos;
    pos = i + length;
  }
  return pos;
}
