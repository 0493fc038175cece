import { setFlagsFromString } from 'node:v8';

/**
 * V8's allocation-site pretenuring off for the ingest, set before anything else is loaded (the
 * entry point imports this module first). Pretenuring sends every object of a literal to the old
 * generation once most of them have outlived a scavenge — which they do while a freshly started
 * ingest catches up with its broker's backlog and messages wait seconds. The decision then sticks
 * when messages are acknowledged within 40 ms: each one's objects went to the old generation
 * (pointing at young ones, which every scavenge must then visit) to die there. Off, under the
 * bench's alert phase at 10,000 readings/s: 4–5× fewer bytes promoted per scavenge (123–142 KB
 * against 604–639 KB at the median), scavenges of 3.1–3.2 ms against 4.9–5.8 ms at the median
 * (docs/performance.md, "What survives a scavenge"). Not settable in NODE_OPTIONS, which refuses
 * most V8 flags; this flag is read as V8 allocates, so setting it at start-up is enough.
 */
setFlagsFromString('--no-allocation-site-pretenuring');
