import {
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Query,
  Req,
  Res,
  StreamableFile,
  UseFilters,
} from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { CurrentActor, type Actor } from '@lantern/auth';
import { FhirSearchError } from '@lantern/fhir';
import { fhirBaseUrl, FHIR_BASE_PATH } from './fhir.controller.js';
import { FhirError } from './fhir-errors.js';
import { FhirExceptionFilter } from './fhir-exception.filter.js';
import { FhirExportService, type ExportManifest } from './fhir-export.service.js';

type QueryParams = Record<string, string | string[] | undefined>;

function single(query: QueryParams, name: string): string | undefined {
  const value = query[name];
  if (Array.isArray(value)) throw new FhirSearchError(`${name} may be given once`);
  return value;
}

/**
 * HL7 Bulk Data Access (FHIR R4): `GET /fhir/R4/Group/:id/$export` with `Prefer: respond-async`
 * answers 202 and a status URL; the status URL answers 202 (with X-Progress) while the export
 * runs, then the manifest; the files are NDJSON, fetched with the same bearer token.
 */
@ApiExcludeController()
@UseFilters(FhirExceptionFilter)
@Controller(FHIR_BASE_PATH)
export class FhirExportController {
  constructor(private readonly exports: FhirExportService) {}

  @Get('Group/:id/$export')
  @HttpCode(202)
  async kickOff(
    @CurrentActor() actor: Actor,
    @Param('id') groupId: string,
    @Headers('prefer') prefer: string | undefined,
    @Query() query: QueryParams,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<void> {
    if (!/respond-async/.test(prefer ?? ''))
      throw new FhirError(400, 'invalid', 'Bulk export is asynchronous: send Prefer: respond-async');
    for (const name of Object.keys(query))
      if (!['_type', '_since', '_outputFormat'].includes(name))
        throw new FhirSearchError(`Unsupported export parameter '${name}'; supported: _type, _since, _outputFormat`);
    const base = fhirBaseUrl(request);
    const id = await this.exports.kickOff(actor, {
      groupId,
      types: single(query, '_type'),
      since: single(query, '_since'),
      outputFormat: single(query, '_outputFormat'),
      requestUrl: `${base.slice(0, -FHIR_BASE_PATH.length - 1)}${request.originalUrl}`,
    });
    response.setHeader('Content-Location', `${base}/$export-status/${id}`);
  }

  @Get('$export-status/:job')
  status(
    @CurrentActor() actor: Actor,
    @Param('job') job: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): ExportManifest | undefined {
    const status = this.exports.status(actor, job);
    if (status.state === 'running') {
      response.status(202).setHeader('X-Progress', status.progress).setHeader('Retry-After', '2');
      return undefined;
    }
    if (status.state === 'failed') throw new FhirError(500, 'exception', status.message);
    const base = fhirBaseUrl(request);
    response.type('application/json');
    return {
      transactionTime: new Date(status.transactionTime).toISOString(),
      request: status.request,
      requiresAccessToken: true,
      output: status.files.map((f) => ({ type: f.type, url: `${base}/$export-file/${job}/${f.file}`, count: f.count })),
      error: [],
    };
  }

  @Delete('$export-status/:job')
  @HttpCode(202)
  async cancel(@CurrentActor() actor: Actor, @Param('job') job: string): Promise<void> {
    await this.exports.cancel(actor, job);
  }

  /**
   * Bulk Data file request: files are stored gzip-compressed and sent as they are, with
   * `Content-Encoding: gzip`, when Accept-Encoding allows gzip (as the spec asks clients to);
   * otherwise decompressed while streaming. The manifest URL is the same either way.
   */
  @Get('$export-file/:job/:file')
  async file(
    @CurrentActor() actor: Actor,
    @Param('job') job: string,
    @Param('file') file: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ): Promise<StreamableFile> {
    // Negotiated by Express (q-values, `*`, `identity;q=0`); no header means identity only.
    const gzip = request.acceptsEncodings('gzip', 'identity') === 'gzip';
    const out = await this.exports.file(actor, job, file, gzip);
    response.setHeader('Vary', 'Accept-Encoding');
    if (out.gzip) response.setHeader('Content-Encoding', 'gzip');
    return new StreamableFile(out.stream, {
      type: 'application/fhir+ndjson',
      ...(out.gzip && { length: out.length }),
    });
  }
}
