import { sleep, waitUntil } from '../infra/processes.js';
import type { TcpProxy } from '../infra/tcp-proxy.js';
import type { ChaosBroker } from './chaos-broker.js';
import type { ChaosLantern } from './chaos-lantern.js';
import type { ScenarioPatients } from './scenario-patients.js';

export const CHAOS_FAULTS = ['ingest-kill', 'api-kill', 'db-outage', 'broker-restart', 'failover'] as const;
export type ChaosFault = (typeof CHAOS_FAULTS)[number];

/** What one fault did and measured, before verification adds its readings and alerts. */
export interface FaultRun {
  fault: ChaosFault;
  action: string;
  recover: number[];
  health: number[];
  notes: string[];
}

/** The parts of a chaos run a fault acts on, and its settings. */
export interface FaultTargets {
  readonly lantern: ChaosLantern;
  readonly broker: ChaosBroker;
  readonly proxy: TcpProxy;
  readonly scenario: ScenarioPatients;
  readonly ingestKills: number;
  readonly dbOutageSec: number;
  readonly brokerDownSec: number;
  /** Scenario readings to send during each fault. */
  readonly scenarioPatients: number;
}

/**
 * The chaos run's faults, one function each: what is broken, when the scenario patients send their
 * urgent-low readings, and how recovery is timed (the ingest storing again, the api's /health).
 */
const FAULTS: Record<ChaosFault, (t: FaultTargets, run: FaultRun, phase: number) => Promise<void>> = {
  'ingest-kill': async (t, run, phase) => {
    const S = t.scenarioPatients;
    run.action = `${t.ingestKills} × kill -9 of the ingest, restarted at once`;
    for (let k = 0; k < t.ingestKills; k++) {
      const slot = t.lantern.slot;
      await slot.current?.kill9();
      // Scenario readings sent while no ingest runs, spread over the kills.
      for (let j = 0; j < S; j++) if (Math.floor((j * t.ingestKills) / S) === k) t.scenario.hypo(phase);
      const restartAt = performance.now();
      await slot.start();
      run.recover.push(await slot.storedAgain({ instance: undefined, stored: 0 }, restartAt));
      // Under load a while, so the next kill lands mid-stream.
      await sleep(1000);
    }
  },
  'api-kill': async (t, run, phase) => {
    run.action = 'kill -9 of the api, restarted at once';
    const api = t.lantern.api;
    if (api) {
      api.child.kill('SIGKILL');
      await new Promise((r) =>
        api.child.exitCode !== null || api.child.signalCode ? r(0) : api.child.once('exit', r),
      );
    }
    for (let j = 0; j < t.scenarioPatients; j++) t.scenario.hypo(phase);
    const at = performance.now();
    t.lantern.startApi();
    run.health.push(await t.lantern.healthy(at));
  },
  'db-outage': async (t, run, phase) => {
    const S = t.scenarioPatients;
    run.action = `database unreachable ${t.dbOutageSec} s (TCP proxy: connections cut, new ones refused)`;
    t.proxy.cut();
    for (let j = 0; j < S; j++) {
      await sleep((t.dbOutageSec * 1000) / (S + 1));
      t.scenario.hypo(phase);
    }
    await sleep((t.dbOutageSec * 1000) / (S + 1));
    const slot = t.lantern.slot;
    const mark = await slot.mark();
    t.proxy.restore();
    const at = performance.now();
    const [rec, health] = await Promise.all([slot.storedAgain(mark, at), t.lantern.healthy(at)]);
    run.recover.push(rec);
    run.health.push(health);
  },
  'broker-restart': async (t, run, phase) => {
    run.action = `${t.broker.kind === 'embedded' ? 'embedded aedes (sessions in PostgreSQL)' : 'Mosquitto (persistence on)'} stopped, started again after ${t.brokerDownSec} s`;
    await t.broker.down();
    // Sent while the broker is away: mqtt.js keeps them and sends them on reconnecting.
    for (let j = 0; j < t.scenarioPatients; j++) t.scenario.hypo(phase);
    await sleep(t.brokerDownSec * 1000);
    const slot = t.lantern.slot;
    const mark = await slot.mark();
    await t.broker.up();
    const at = performance.now();
    const [rec, health] = await Promise.all([slot.storedAgain(mark, at), t.lantern.healthy(at)]);
    run.recover.push(rec);
    run.health.push(health);
    const session = [...(slot.current?.proc.output() ?? '').matchAll(/session (resumed|new)/g)].pop()?.[1];
    run.notes.push(`the ingest's session after the restart: ${session ?? 'unknown'}`);
  },
  failover: async (t, run, phase) => {
    run.action = 'kill -9 of the active ingest, a standby waiting (lease 2 s)';
    const standbySlot = t.lantern.newSlot();
    const standby = await standbySlot.start();
    await waitUntil(
      'the standby to wait',
      () => Promise.resolve(/Standby: .* is held by another ingest/.test(standby.proc.output())),
      60_000,
      standby.proc,
    );
    // The killed leader is not started again: the standby is the ingest from now on.
    const slot = t.lantern.slot;
    slot.stopped = true;
    await slot.current?.kill9();
    const at = performance.now();
    for (let j = 0; j < t.scenarioPatients; j++) t.scenario.hypo(phase);
    t.lantern.slot = standbySlot;
    run.recover.push(await standbySlot.storedAgain({ instance: undefined, stored: 0 }, at));
  },
};

/** Runs one fault as phase `phase`; a fault that does not recover is noted in its run, not thrown. */
export async function runFault(
  fault: ChaosFault,
  phase: number,
  t: FaultTargets,
  log: (line: string) => void,
): Promise<FaultRun> {
  const run: FaultRun = { fault, action: '', recover: [], health: [], notes: [] };
  try {
    await FAULTS[fault](t, run, phase);
  } catch (error) {
    run.recover.push(NaN);
    run.notes.push(`did not recover: ${(error as Error).message.split('\n')[0]}`);
    log(`  ✗ ${fault}: ${(error as Error).message.slice(0, 2000)}`);
  }
  return run;
}
