import { describe, expect, it } from '@jest/globals';
import { loadConfig } from '@lantern/config';
import { IngestMetrics } from './ingest-metrics.js';

describe('IngestMetrics per-message tallies', () => {
  it('adds the messages and readings counted since the last scrape to their counters, once', async () => {
    const metrics = new IngestMetrics(loadConfig({}));
    metrics.messageReceived('telemetry', 1);
    metrics.messageReceived('telemetry', 1);
    metrics.messageReceived('status', 0);
    metrics.readingsAcceptedBy(5);
    metrics.readingsAcceptedBy(2);

    const first = await metrics.scrape();
    expect(first).toContain('lantern_ingest_messages_total{kind="telemetry",qos="1"} 2');
    expect(first).toContain('lantern_ingest_messages_total{kind="status",qos="0"} 1');
    expect(first).not.toContain('qos="2"');
    expect(first).toContain('lantern_ingest_readings_accepted_total 7');

    // A scrape empties the tallies: the next one adds only what came in between.
    metrics.messageReceived('telemetry', 1);
    const second = await metrics.scrape();
    expect(second).toContain('lantern_ingest_messages_total{kind="telemetry",qos="1"} 3');
    expect(second).toContain('lantern_ingest_messages_total{kind="status",qos="0"} 1');
    expect(second).toContain('lantern_ingest_readings_accepted_total 7');
  });
});
