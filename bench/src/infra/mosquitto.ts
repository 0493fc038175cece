import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { startProcess, waitUntil, type BenchProcess } from './processes.js';

/**
 * The one way the bench, the chaos and fuzz harnesses and the tests run Debian's Mosquitto: find the
 * binary, write a configuration built from docker/mosquitto.conf's no-loss lines plus the caller's
 * listeners, persistence and authentication, start it and wait until it listens. It lives here
 * rather than in test/support because the bench builds and ships without test/ (.dependency-cruiser.cjs).
 * Free of import.meta: jest's global setup loads it as CommonJS.
 */

const BINARIES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto', '/usr/local/bin/mosquitto'];

/** Where Debian (or a local build) put mosquitto; undefined when it is not installed. */
export function findMosquitto(): string | undefined {
  return BINARIES.find((path) => existsSync(path));
}

/** The mosquitto binary, or an error saying how to install it. */
export function requireMosquitto(): string {
  const binary = findMosquitto();
  if (!binary) throw new Error('mosquitto is not installed (apt-get install mosquitto)');
  return binary;
}

// The settings of docker/mosquitto.conf that decide whether QoS 1 messages are dropped or refused
// (queue and in-flight limits, packet size): what a broker started here must share with production
// for a test or a measurement to mean anything. Listeners, persistence, auth and logging are the caller's.
const NO_LOSS_SETTINGS =
  /^(max_queued_messages|max_queued_bytes|max_inflight_messages|max_inflight_bytes|max_packet_size|message_size_limit|max_keepalive|upgrade_outgoing_qos|queue_qos0_messages|set_tcp_nodelay|retain_available|persistent_client_expiration)\s/;

/** The no-loss lines of a Mosquitto configuration file (docker/mosquitto.conf), trimmed, in order. */
export function noLossSettings(shippedConf: string): string[] {
  return readFileSync(shippedConf, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => NO_LOSS_SETTINGS.test(line));
}

export interface MosquittoConfig {
  /** The plain MQTT listener. */
  readonly port: number;
  /** Address of every listener (127.0.0.1: a broker of tests and benches is never reachable from outside). */
  readonly host?: string;
  /** docker/mosquitto.conf, whose no-loss lines come first; undefined: Mosquitto's own (lossy) defaults. */
  readonly shippedConf?: string;
  /** Lines after the no-loss ones, before any listener: global settings of the caller's own. */
  readonly extra?: readonly string[];
  /** Connections the plain listener accepts (-1: no limit but the process's file limit). */
  readonly maxConnections?: number;
  /** A password file (mosquitto_passwd) and no anonymous access; unset: anyone may connect. */
  readonly passwordFile?: string;
  /** Where the persistence file goes (saved every `autosaveIntervalSec`); unset: persistence off. */
  readonly persistence?: { readonly dir: string; readonly autosaveIntervalSec: number };
  /** A second listener with TLS, on the same host. */
  readonly tls?: { readonly port: number; readonly certFile: string; readonly keyFile: string };
}

/** The text of a Mosquitto configuration file for `config`. */
export function mosquittoConfig(config: MosquittoConfig): string {
  const host = config.host ?? '127.0.0.1';
  const { persistence, tls } = config;
  // Started as root, Mosquitto drops to the user 'mosquitto', which can neither write into a root-owned
  // folder (its persistence would fail, "Permission denied", and a restart silently lose every
  // session) nor read a password file or key there. Keep root when it has such files (a broker of
  // tests and benches, on loopback).
  const asRoot = process.getuid?.() === 0 && (persistence || config.passwordFile || tls) ? ['user root'] : [];
  return [
    ...(config.shippedConf ? noLossSettings(config.shippedConf) : []),
    ...(config.extra ?? []),
    `listener ${config.port} ${host}`,
    ...(config.maxConnections === undefined ? [] : [`max_connections ${config.maxConnections}`]),
    ...(config.passwordFile
      ? ['allow_anonymous false', `password_file ${config.passwordFile}`]
      : ['allow_anonymous true']),
    ...(persistence
      ? [
          'persistence true',
          `persistence_location ${persistence.dir}/`,
          ...asRoot,
          `autosave_interval ${persistence.autosaveIntervalSec}`,
        ]
      : ['persistence false', ...asRoot]),
    // Per-listener settings follow their listener line: certfile and keyfile belong to this one only.
    ...(tls ? [`listener ${tls.port} ${host}`, `certfile ${tls.certFile}`, `keyfile ${tls.keyFile}`] : []),
    'log_dest stderr',
    'log_type error',
    '',
  ].join('\n');
}

/** Writes `config` to `file` (see {@link mosquittoConfig}). */
export function writeMosquittoConfig(file: string, config: MosquittoConfig): void {
  writeFileSync(file, mosquittoConfig(config));
}

/**
 * Starts mosquitto on an existing configuration file and waits until every one of `ports` accepts
 * connections; fails with mosquitto's output when it exits first or `timeoutMs` passes.
 * Stopping the returned process is an orderly SIGTERM (Mosquitto saves its persistence file).
 */
export async function launchMosquitto(
  conf: string,
  ports: readonly number[],
  options: { binary?: string; host?: string; timeoutMs?: number; what?: string } = {},
): Promise<BenchProcess> {
  const proc = startProcess('mosquitto', options.binary ?? requireMosquitto(), ['-c', conf], {});
  try {
    for (const port of ports)
      await waitUntil(
        `${options.what ?? 'mosquitto to listen'} on port ${port}`,
        () => canConnect(options.host ?? '127.0.0.1', port),
        options.timeoutMs ?? 5000,
        proc,
      );
  } catch (error) {
    proc.child.kill('SIGKILL');
    throw error;
  }
  return proc;
}

/** The ports of `config` that clients connect to: the plain listener, then the TLS one. */
export function listenerPorts(config: MosquittoConfig): number[] {
  return config.tls ? [config.port, config.tls.port] : [config.port];
}

/** Writes `config` to `file` and starts mosquitto on it ({@link launchMosquitto}). */
export async function startMosquitto(
  file: string,
  config: MosquittoConfig,
  options: { binary?: string; timeoutMs?: number } = {},
): Promise<BenchProcess> {
  writeMosquittoConfig(file, config);
  return launchMosquitto(file, listenerPorts(config), { ...options, host: config.host });
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: host === '0.0.0.0' ? '127.0.0.1' : host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
