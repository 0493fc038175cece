// Loaded into the api and ingest processes by the supervisor (`node --import`), before their own
// code. A role whose supervisor died without stopping it (kill -9, the OOM killer) would live on as
// an orphan that holds its port and, for the ingest, the broker session a restarted Lantern needs.
// The IPC channel to the supervisor closes when the supervisor dies: stop as on SIGTERM then.

/** How long the role may take to shut down by itself once its supervisor is gone. */
const ORPHAN_EXIT_GRACE_MS = 15_000;

if (process.channel) {
  // The channel must not keep the role alive, nor be the reason it stays.
  process.channel.unref();
  process.once('disconnect', () => {
    process.stderr.write('supervisor gone: stopping\n');
    setTimeout(() => process.exit(1), ORPHAN_EXIT_GRACE_MS).unref();
    process.kill(process.pid, 'SIGTERM');
  });
}
