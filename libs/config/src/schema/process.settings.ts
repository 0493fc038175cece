import { int, oneOf, text } from './parsers.js';
import type { Setting } from './setting.js';

/** How each Lantern process runs: its environment, log level, data folder, and the supervisor's restart count. */
export const PROCESS_SETTINGS = {
  nodeEnv: {
    env: 'NODE_ENV',
    description: 'development, production or test.',
    default: 'development',
    parse: oneOf('development', 'production', 'test'),
  },
  dataDir: {
    env: 'DATA_DIR',
    description: "Folder of the embedded servers' data (persistent across restarts).",
    default: './.lantern',
    parse: text(),
  },
  logLevel: {
    env: 'LOG_LEVEL',
    description: 'error, warn, log, debug or verbose.',
    default: 'log',
    parse: oneOf('error', 'warn', 'log', 'debug', 'verbose'),
  },
  roleRestarts: {
    env: 'LANTERN_ROLE_RESTARTS',
    description:
      "Set by npm start's supervisor, not by hand: how many times it has restarted this process's role (reported as lantern_role_restarts_total).",
    default: '0',
    parse: int(0, 1_000_000_000),
  },
} as const satisfies Record<string, Setting<unknown>>;
