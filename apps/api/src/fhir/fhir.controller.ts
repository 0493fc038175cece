import { All, Controller, Get, Header, Param, Query, Req, UseFilters } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request } from 'express';
import type { Bundle, CapabilityStatement, Device, Flag, Observation, Patient } from '@medplum/fhirtypes';
import { CurrentActor, Public, type Actor } from '@lantern/auth';
import { capabilityStatement } from '@lantern/fhir';
import { FhirError } from './fhir-errors.js';
import { FhirExceptionFilter } from './fhir-exception.filter.js';
import { FhirService, type FhirSearchRequest } from './fhir.service.js';

export const FHIR_BASE_PATH = 'fhir/R4';
export const FHIR_JSON = 'application/fhir+json';

type QueryParams = Record<string, string | string[] | undefined>;

/** The FHIR base URL as the client reached it (honours `trust proxy` for the protocol). */
export function fhirBaseUrl(request: Request): string {
  return `${request.protocol}://${request.get('host') ?? 'localhost'}/${FHIR_BASE_PATH}`;
}

function searchRequest(request: Request, params: QueryParams): FhirSearchRequest {
  return {
    params,
    baseUrl: fhirBaseUrl(request),
    selfUrl: `${request.protocol}://${request.get('host') ?? 'localhost'}${request.originalUrl}`,
  };
}

/**
 * FHIR R4, read-only (contract §4.5): excluded from the OpenAPI document — its own discovery is the
 * CapabilityStatement at /fhir/R4/metadata, and its errors are OperationOutcome, not REST's body.
 */
@ApiExcludeController()
@UseFilters(FhirExceptionFilter)
@Controller(FHIR_BASE_PATH)
export class FhirController {
  constructor(private readonly fhir: FhirService) {}

  /** Public, as FHIR clients fetch it before they authenticate; it holds nothing about patients. */
  @Public()
  @Get('metadata')
  @Header('Content-Type', FHIR_JSON)
  metadata(@Req() request: Request): CapabilityStatement {
    return capabilityStatement(fhirBaseUrl(request), { name: 'Lantern', version: '0.1.0' });
  }

  @Get('Patient')
  @Header('Content-Type', FHIR_JSON)
  searchPatients(@CurrentActor() actor: Actor, @Req() request: Request, @Query() query: QueryParams): Promise<Bundle> {
    return this.fhir.searchPatients(actor, searchRequest(request, query));
  }

  @Get('Patient/:id')
  @Header('Content-Type', FHIR_JSON)
  readPatient(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<Patient> {
    return this.fhir.readPatient(actor, id);
  }

  @Get('Device')
  @Header('Content-Type', FHIR_JSON)
  searchDevices(@CurrentActor() actor: Actor, @Req() request: Request, @Query() query: QueryParams): Promise<Bundle> {
    return this.fhir.searchDevices(actor, searchRequest(request, query));
  }

  @Get('Device/:id')
  @Header('Content-Type', FHIR_JSON)
  readDevice(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<Device> {
    return this.fhir.readDevice(actor, id);
  }

  @Get('Observation')
  @Header('Content-Type', FHIR_JSON)
  searchObservations(
    @CurrentActor() actor: Actor,
    @Req() request: Request,
    @Query() query: QueryParams,
  ): Promise<Bundle> {
    return this.fhir.searchObservations(actor, searchRequest(request, query));
  }

  @Get('Observation/:id')
  @Header('Content-Type', FHIR_JSON)
  readObservation(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<Observation> {
    return this.fhir.readObservation(actor, id);
  }

  @Get('Flag')
  @Header('Content-Type', FHIR_JSON)
  searchFlags(@CurrentActor() actor: Actor, @Req() request: Request, @Query() query: QueryParams): Promise<Bundle> {
    return this.fhir.searchFlags(actor, searchRequest(request, query));
  }

  @Get('Flag/:id')
  @Header('Content-Type', FHIR_JSON)
  readFlag(@CurrentActor() actor: Actor, @Param('id') id: string): Promise<Flag> {
    return this.fhir.readFlag(actor, id);
  }

  /** Any other resource type (after the routes above, which Nest tries first). */
  @Get([':type', ':type/:id'])
  unsupportedType(@Param('type') type: string): never {
    throw new FhirError(404, 'not-supported', `Resource type ${type} is not supported; see /fhir/R4/metadata`);
  }
}

/**
 * Writes (create, update, patch, delete) of any resource: this server is read-only. A controller of
 * its own, registered after every GET route of the FHIR base (the export's too).
 */
@ApiExcludeController()
@UseFilters(FhirExceptionFilter)
@Controller(FHIR_BASE_PATH)
export class FhirReadOnlyController {
  @Public()
  @All('{*path}')
  refuse(@Req() request: Request): never {
    if (request.method === 'GET' || request.method === 'HEAD')
      throw new FhirError(404, 'not-supported', `${request.path} is not supported; see /fhir/R4/metadata`);
    throw new FhirError(405, 'not-supported', `${request.method} is not supported: this FHIR server is read-only`);
  }
}
