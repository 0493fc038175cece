import { ConfigError, loadConfig, type LanternConfig } from '@lantern/config';
import { BrokerSchemaInUseError, InvalidCertificateError, PortTakenError } from '@lantern/embedded';
import { DataDirInUseError } from './data-dir.lock.js';
import { LanternSupervisor, StartAbandoned } from './lantern.supervisor.js';

let config: LanternConfig;
try {
  config = loadConfig();
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  process.stderr.write(`${error.message}\n`);
  process.exit(1);
}

const supervisor = new LanternSupervisor(config);
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void supervisor.shutdown(0));
// Whatever goes wrong in here, the children and embedded servers must not be left running.
process.on('uncaughtException', (error) => {
  process.stderr.write(`[lantern] ${error.stack ?? String(error)}\n`);
  void supervisor.shutdown(1);
});

supervisor.start().catch((error: unknown) => {
  if (error instanceof StartAbandoned) return;
  // Operator errors are one line; anything else keeps its stack for a bug report.
  const message =
    error instanceof PortTakenError ||
    error instanceof DataDirInUseError ||
    error instanceof BrokerSchemaInUseError ||
    error instanceof InvalidCertificateError
      ? error.message
      : `Lantern failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`;
  process.stderr.write(`${message}\n`);
  void supervisor.shutdown(1, { quiet: true });
});
