import { randomUUID } from 'node:crypto';
import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { DomainError } from '@lantern/domain';
import { FhirSearchError, operationOutcome, type OutcomeIssueCode } from '@lantern/fhir';
import { STATUS_OF } from '../http/domain-exception.filter.js';
import { FhirError } from './fhir-errors.js';

interface HttpResponse {
  headersSent: boolean;
  status(code: number): HttpResponse;
  type(contentType: string): HttpResponse;
  send(body: string): void;
}

/** The OperationOutcome issue type that goes with an HTTP status (R4 issue-type value set). */
function issueOf(status: number): OutcomeIssueCode {
  switch (status) {
    case 401:
      return 'login';
    case 403:
      return 'forbidden';
    case 404:
      return 'not-found';
    case 429:
      return 'throttled';
    default:
      return status >= 500 ? 'exception' : 'invalid';
  }
}

/**
 * The FHIR controllers' errors as OperationOutcome (`application/fhir+json`) with the same statuses
 * REST gives: 401 without a valid token, 403 for a role, 404 for an unknown or invisible resource,
 * 400 for a search this server cannot answer. Unknown errors are a 500 with an error id, logged once,
 * whose message never reaches the client (as DomainExceptionFilter does for REST).
 */
@Catch()
export class FhirExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('FHIR');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<HttpResponse>();
    const { status, issue, text } = this.describe(exception);
    if (response.headersSent) return;
    response
      .status(status)
      .type('application/fhir+json')
      .send(JSON.stringify(operationOutcome(issue, text)));
  }

  private describe(exception: unknown): { status: number; issue: OutcomeIssueCode; text: string } {
    if (exception instanceof FhirError)
      return { status: exception.status, issue: exception.issue, text: exception.message };
    if (exception instanceof FhirSearchError) return { status: 400, issue: 'invalid', text: exception.message };
    if (exception instanceof DomainError) {
      const status = STATUS_OF[exception.code];
      return { status, issue: issueOf(status), text: exception.message };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const body = exception.getResponse();
      const message = typeof body === 'object' && body !== null && 'message' in body ? body.message : exception.message;
      return { status, issue: issueOf(status), text: Array.isArray(message) ? message.join('; ') : String(message) };
    }
    const errorId = randomUUID();
    this.logger.error(`Unhandled error ${errorId}`, exception instanceof Error ? exception.stack : String(exception));
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      issue: 'exception',
      text: `Internal server error (error id ${errorId})`,
    };
  }
}
