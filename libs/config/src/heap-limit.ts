/**
 * The V8 heap limit Lantern's processes run with, MiB. Not for the memory they need (the ingest
 * holds about 100 MB live at 10,000 devices; an api FHIR export ran whole in a 192 MB old space,
 * docs/fhir.md) but for the memory they keep: V8 lets the old generation grow by up to 4× its live
 * size between full collections when the limit is large (Node's default here: 4 GiB on a 24 GiB
 * machine), and by about 1.6× at 1 GiB. In the ingest every pending message's objects went to the
 * old generation (V8's pretenuring, since turned off: apps/ingest/src/v8-flags.ts) and died there,
 * so its RSS followed that factor: 345–440 MiB under the bench's steady load with Node's default,
 * 230–250 MiB with this limit (docs/performance.md).
 */
export const HEAP_LIMIT_MB = 1024;

/**
 * NODE_OPTIONS for a Lantern process (api or ingest): the given ones with `--max-old-space-size`
 * set to {@link HEAP_LIMIT_MB}, unless they set it already (an operator's own limit wins). Used by
 * the supervisor (`npm start`) and the bench; the Docker image sets the same.
 */
export function withHeapLimit(nodeOptions: string | undefined): string {
  if (nodeOptions?.includes('--max-old-space-size')) return nodeOptions;
  return [nodeOptions, `--max-old-space-size=${HEAP_LIMIT_MB}`].filter(Boolean).join(' ');
}
