/**
 * Where `nest build` puts the apps a harness runs as child processes, relative to the repository
 * root: one owner for the paths the bench, fuzz and chaos runs start.
 */

/** The built ingest (`npx nest build ingest`). */
export const INGEST_ENTRY = 'dist/apps/ingest/apps/ingest/src/main.js';

/** The built api (`npx nest build api`). */
export const API_ENTRY = 'dist/apps/api/apps/api/src/main.js';
