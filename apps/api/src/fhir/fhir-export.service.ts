import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { pipeline as pipe, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { constants as zlib, createGunzip, createGzip } from 'node:zlib';
import { HttpException, HttpStatus, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { AuditService, type Actor } from '@lantern/auth';
import { ForbiddenError, NotFoundError } from '@lantern/domain';
import {
  FhirSearchError,
  OBSERVATION_KIND_LIST,
  dateRange,
  toFhirDevice,
  toFhirFlag,
  toFhirObservation,
  toFhirPatient,
} from '@lantern/fhir';
import { DeviceRepository, PatientRepository } from '@lantern/storage';
import { FhirRepository, type ObservationCursor } from './fhir.repository.js';

export const EXPORT_TYPES = ['Patient', 'Device', 'Observation', 'Flag'] as const;
export type ExportType = (typeof EXPORT_TYPES)[number];

/** Observations fetched per query while exporting: bounds memory whatever the export's size. */
const OBSERVATION_BATCH = 5000;
/**
 * Observations are exported a week at a time for the whole group (exportObservations): a week of
 * 1,000 patients at a reading a minute is about 1 GB of table and index, which stays cached.
 */
const OBSERVATION_WINDOW_MS = 7 * 86_400_000;
const FLAG_BATCH = 1000;
/** Exports running at once on this instance; more are refused with 429 (each holds a connection busy). */
const MAX_RUNNING = 2;
/**
 * Files are stored gzip-compressed at the fastest level: Observation NDJSON shrinks about 40×
 * (measured), which is what lets a 90-day export of 1,000 patients (~88 GB of NDJSON) fit on disk,
 * and level 1 costs little CPU next to building the resources.
 */
const GZIP_LEVEL = zlib.Z_BEST_SPEED;
/** Characters of NDJSON gathered before one write to gzip. */
const WRITE_CHUNK_CHARS = 256 * 1024;
/** A finished export's files are kept this long, then deleted. */
const KEEP_MS = 60 * 60_000;
const ALL: { kind: 'all' } = { kind: 'all' };

export interface ExportRequest {
  readonly groupId: string;
  readonly types?: string;
  readonly since?: string;
  readonly outputFormat?: string;
  /** The kick-off URL, repeated in the manifest. */
  readonly requestUrl: string;
}

/** The Bulk Data completion manifest. */
export interface ExportManifest {
  readonly transactionTime: string;
  readonly request: string;
  readonly requiresAccessToken: true;
  readonly output: { type: ExportType; url: string; count: number }[];
  readonly error: { type: 'OperationOutcome'; url: string }[];
}

interface ExportJob {
  readonly id: string;
  readonly ownerId: string;
  readonly request: string;
  readonly transactionTime: number;
  readonly dir: string;
  readonly types: readonly ExportType[];
  state: 'running' | 'done' | 'failed' | 'cancelled';
  progress: string;
  outputs: { type: ExportType; file: string; count: number }[];
  failure?: string;
  finishedAt?: number;
}

export type ExportStatus =
  | { readonly state: 'running'; readonly progress: string }
  | {
      readonly state: 'done';
      readonly files: { type: ExportType; file: string; count: number }[];
      readonly transactionTime: number;
      readonly request: string;
    }
  | { readonly state: 'failed'; readonly message: string };

/**
 * HL7 Bulk Data export of a Group — a clinician's care team — as NDJSON files, one per resource
 * type. Runs in the background after the kick-off; each patient's resources are read in batches
 * (Observations by keyset, {@link OBSERVATION_BATCH} at a time) and written with backpressure, so
 * memory stays bounded whatever the export's size. Jobs and their files belong to this api
 * instance (in memory, files under the OS temp folder): the status URL must reach the same instance.
 */
@Injectable()
export class FhirExportService implements OnModuleDestroy {
  private readonly logger = new Logger('FhirExport');
  private readonly jobs = new Map<string, ExportJob>();
  private readonly root = join(tmpdir(), `lantern-fhir-export-${process.pid}`);

  constructor(
    private readonly fhir: FhirRepository,
    private readonly patients: PatientRepository,
    private readonly devices: DeviceRepository,
    private readonly audit: AuditService,
  ) {}

  /** Checks who may export the group, starts the job and returns its id. */
  async kickOff(actor: Actor, request: ExportRequest): Promise<string> {
    await this.sweep();
    const { principal } = actor;
    // An allow-list: a role added later (caregiver) must not fall through to the admin's any-group export.
    if (principal.role !== 'admin' && principal.role !== 'clinician')
      throw new ForbiddenError('Bulk export is for clinicians and admins');
    // A clinician exports their own care team; another team looks like no group at all.
    if (principal.role === 'clinician' && principal.userId !== request.groupId.toLowerCase())
      throw new NotFoundError('Group', request.groupId);
    const patientIds = await this.fhir.careTeamPatientIds(request.groupId);
    if (patientIds === undefined) throw new NotFoundError('Group', request.groupId);
    const types = parseTypes(request.types);
    const since = request.since === undefined ? undefined : dateRange(request.since).start;
    if (
      request.outputFormat !== undefined &&
      !/^(application\/fhir\+ndjson|application\/ndjson|ndjson)$/.test(request.outputFormat)
    )
      throw new FhirSearchError('_outputFormat must be application/fhir+ndjson');
    if ([...this.jobs.values()].filter((j) => j.state === 'running').length >= MAX_RUNNING)
      throw new HttpException('Too many exports running; try again later', HttpStatus.TOO_MANY_REQUESTS);
    const id = randomUUID();
    const job: ExportJob = {
      id,
      ownerId: principal.userId,
      request: request.requestUrl,
      transactionTime: Date.now(),
      dir: join(this.root, id),
      types,
      state: 'running',
      progress: 'starting',
      outputs: [],
    };
    await this.audit.recordPerPatient(
      actor,
      {
        action: 'fhir.export',
        resource: 'group',
        resourceId: request.groupId,
        details: { types, since: request.since ?? null },
      },
      patientIds,
    );
    this.jobs.set(id, job);
    this.run(job, patientIds, since).catch((error: unknown) => {
      job.state = 'failed';
      job.failure = 'The export failed; start it again';
      job.finishedAt = Date.now();
      this.logger.error(`Export ${id} failed`, error instanceof Error ? error.stack : String(error));
    });
    return id;
  }

  /**
   * The job's state for the user who kicked it off. Anyone else — another clinician, an admin —
   * gets NotFoundError, as for an unknown job; a patient ForbiddenError (see {@link ownJob}).
   */
  status(actor: Actor, jobId: string): ExportStatus {
    const job = this.ownJob(actor, jobId);
    if (job.state === 'running') return { state: 'running', progress: job.progress };
    if (job.state === 'failed') return { state: 'failed', message: job.failure ?? 'failed' };
    return { state: 'done', files: job.outputs, transactionTime: job.transactionTime, request: job.request };
  }

  /** Cancels a running export or deletes a finished one's files. */
  async cancel(actor: Actor, jobId: string): Promise<void> {
    const job = this.ownJob(actor, jobId);
    job.state = 'cancelled';
    this.jobs.delete(job.id);
    await rm(job.dir, { recursive: true, force: true });
  }

  /**
   * One output file of a finished export, as a stream: the stored gzip bytes when the client
   * accepts gzip (`Content-Encoding: gzip`, the length known), otherwise decompressed on the fly.
   */
  async file(actor: Actor, jobId: string, file: string, gzip: boolean): Promise<ExportFile> {
    const job = this.ownJob(actor, jobId);
    const output = job.state === 'done' ? job.outputs.find((o) => o.file === file) : undefined;
    if (output === undefined) throw new NotFoundError('Export file', file);
    const path = storedPath(job, output.file);
    const { size } = await stat(path);
    if (gzip) return { stream: createReadStream(path), gzip: true, length: size };
    // pipe (not .pipe()): a read error destroys the gunzip stream, so the response ends in error.
    return { stream: pipe(createReadStream(path), createGunzip(), () => undefined), gzip: false };
  }

  async onModuleDestroy(): Promise<void> {
    for (const job of this.jobs.values()) job.state = 'cancelled';
    await rm(this.root, { recursive: true, force: true });
  }

  private ownJob(actor: Actor, jobId: string): ExportJob {
    // A patient may never export (kick-off is 403), so every export route is 403 for them too.
    if (actor.principal.role !== 'admin' && actor.principal.role !== 'clinician')
      throw new ForbiddenError('Bulk export is for clinicians and admins');
    const job = this.jobs.get(jobId);
    if (job === undefined || job.ownerId !== actor.principal.userId) throw new NotFoundError('Export', jobId);
    return job;
  }

  private async sweep(): Promise<void> {
    const now = Date.now();
    for (const job of [...this.jobs.values()])
      if (job.finishedAt !== undefined && now - job.finishedAt > KEEP_MS) {
        this.jobs.delete(job.id);
        await rm(job.dir, { recursive: true, force: true });
      }
  }

  private async run(job: ExportJob, patientIds: readonly string[], since: number | undefined): Promise<void> {
    await mkdir(job.dir, { recursive: true });
    for (const type of job.types) {
      const file = `${type}.ndjson`;
      const gzip = createGzip({ level: GZIP_LEVEL });
      const written = pipeline(gzip, createWriteStream(storedPath(job, file)));
      // Awaited below; the handler only keeps an early failure (disk full) from being "unhandled".
      written.catch(() => undefined);
      let count = 0;
      // Lines are handed to gzip in chunks of about WRITE_CHUNK_CHARS: a write per resource costs a
      // zlib call and a stream turn each, more than building the resource.
      let lines: string[] = [];
      let chars = 0;
      const flush = async (): Promise<void> => {
        if (lines.length === 0) return;
        const chunk = lines.join('');
        lines = [];
        chars = 0;
        // Backpressure through both streams: gzip's buffer fills when the file falls behind.
        if (!gzip.write(chunk)) await once(gzip, 'drain');
      };
      const write = async (resource: object): Promise<void> => {
        count++;
        const line = `${JSON.stringify(resource)}\n`;
        lines.push(line);
        chars += line.length;
        if (chars >= WRITE_CHUNK_CHARS) await flush();
      };
      try {
        if (type === 'Observation') await this.exportObservations(job, patientIds, since, write);
        else
          for (const [i, patientId] of patientIds.entries()) {
            if (job.state === 'cancelled') return;
            job.progress = `${type}: patient ${i + 1} of ${patientIds.length}`;
            await this.exportPatient(type, patientId, since, write);
          }
      } finally {
        await flush();
        gzip.end();
        await written;
      }
      if (count > 0) job.outputs.push({ type, file, count });
    }
    job.state = 'done';
    job.finishedAt = Date.now();
  }

  /**
   * Every Observation of the patients, a window of OBSERVATION_WINDOW_MS at a time and within it
   * patient by patient. Readings are stored in arrival order, so one patient's lie one per heap page
   * among everybody else's: exported patient by patient over all time, a data set larger than memory
   * costs a random read per Observation (the full-size measurement, docs/fhir.md). A window of all
   * the group's patients is small enough to stay cached while each patient's part of it is read, so
   * every page is read from disk about once. NDJSON has no order to keep.
   */
  private async exportObservations(
    job: ExportJob,
    patientIds: readonly string[],
    since: number | undefined,
    write: (resource: object) => Promise<void>,
  ): Promise<void> {
    const span = await this.fhir.readingTimeSpan(patientIds);
    if (span === undefined) return;
    const first = Math.floor(span.first / OBSERVATION_WINDOW_MS) * OBSERVATION_WINDOW_MS;
    const windows = Math.floor((span.last - first) / OBSERVATION_WINDOW_MS) + 1;
    const kinds = OBSERVATION_KIND_LIST.map((k) => k.kind);
    for (let w = 0; w < windows; w++) {
      const from = first + w * OBSERVATION_WINDOW_MS;
      for (const [i, patientId] of patientIds.entries()) {
        if (job.state === 'cancelled') return;
        job.progress = `Observation: ${Math.round(((w * patientIds.length + i) / (windows * patientIds.length)) * 100)} % (window ${w + 1} of ${windows}, patient ${i + 1} of ${patientIds.length})`;
        let after: ObservationCursor | undefined;
        do {
          const page = await this.fhir.searchObservations({
            patientId,
            kinds,
            from,
            to: from + OBSERVATION_WINDOW_MS,
            sort: 'asc',
            count: OBSERVATION_BATCH,
            after,
            receivedSince: since,
            withTotal: false,
          });
          for (const source of page.items) await write(toFhirObservation(source));
          after = page.next;
        } while (after !== undefined);
      }
    }
  }

  private async exportPatient(
    type: Exclude<ExportType, 'Observation'>,
    patientId: string,
    since: number | undefined,
    write: (resource: object) => Promise<void>,
  ): Promise<void> {
    switch (type) {
      case 'Patient': {
        // Patients carry no change time: `_since` cannot narrow them, so every one is exported.
        const patient = await this.patients.findById(patientId);
        if (patient) await write(toFhirPatient(patient));
        return;
      }
      case 'Device':
        for (const d of await this.devices.list(ALL, patientId))
          await write(
            toFhirDevice({
              id: d.id,
              patientId: d.patientId,
              type: d.type,
              ...(d.serial !== undefined && { serial: d.serial }),
              ...(d.model !== undefined && { model: d.model }),
              ...(d.decommissionedAt !== undefined && { decommissionedAt: d.decommissionedAt.getTime() }),
            }),
          );
        return;
      case 'Flag':
        for (let offset = 0; ; offset += FLAG_BATCH) {
          const alerts = await this.fhir.alertsForExport(patientId, since, FLAG_BATCH, offset);
          for (const alert of alerts) await write(toFhirFlag(alert));
          if (alerts.length < FLAG_BATCH) return;
        }
    }
  }
}

/** A file to send: gzip bytes as stored, or the decompressed NDJSON. */
export type ExportFile =
  | { readonly stream: Readable; readonly gzip: true; readonly length: number }
  | { readonly stream: Readable; readonly gzip: false };

/** Where a job's file is stored: its manifest name plus `.gz` (the manifest URLs name the NDJSON). */
function storedPath(job: ExportJob, file: string): string {
  return join(job.dir, `${file}.gz`);
}

/** `_type`: a comma-separated subset of the exportable types; all of them without it. */
function parseTypes(value: string | undefined): ExportType[] {
  if (value === undefined || value === '') return [...EXPORT_TYPES];
  const types = value.split(',').map((t) => t.trim());
  for (const t of types)
    if (!(EXPORT_TYPES as readonly string[]).includes(t))
      throw new FhirSearchError(`_type ${t} cannot be exported; exportable: ${EXPORT_TYPES.join(', ')}`);
  return [...new Set(types)] as ExportType[];
}
