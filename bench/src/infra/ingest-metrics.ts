/**
 * Reading the ingest's Prometheus endpoint (INGEST_METRICS_PORT) from a harness: the one place the
 * bench, fuzz and chaos runs fetch `/metrics` and sum a metric's samples.
 */

/** Sum of a Prometheus metric's samples (every label set); 0 when absent. */
export function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) sum += value;
  }
  return sum;
}

/** The `/metrics` endpoint of one ingest process. */
export class IngestMetrics {
  constructor(readonly url: string) {}

  /** The endpoint of an ingest started with INGEST_METRICS_PORT=`port` on loopback. */
  static onPort(port: number): IngestMetrics {
    return new IngestMetrics(`http://127.0.0.1:${port}/metrics`);
  }

  /** The exposition text as scraped now. */
  async text(): Promise<string> {
    return (await fetch(this.url)).text();
  }

  /** One metric's sum, scraped now. */
  async value(name: string): Promise<number> {
    return metricValue(await this.text(), name);
  }
}
