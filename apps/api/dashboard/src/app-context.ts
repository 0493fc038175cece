import type { AlertResource } from '@lantern/domain';
import type { Session } from './api.js';
import type { LiveConnection } from './live.js';

/** What every view may use from the shell. */
export interface AppContext {
  session: Session;
  live: LiveConnection;
  navigate: (path: string) => void;
  /** Acknowledges with user feedback; resolves with the updated alert, or null on failure. */
  acknowledge: (alert: AlertResource) => Promise<AlertResource | null>;
  resolve: (alert: AlertResource) => Promise<AlertResource | null>;
  toast: (text: string, kind?: 'info' | 'error') => void;
}
