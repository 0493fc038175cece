import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import { Catch, HttpException, HttpStatus, Logger, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import { DomainError, type DomainErrorCode } from '@lantern/domain';
import type { ErrorBodyDto } from './error-body.dto.js';

/** The one place where domain error codes become HTTP statuses. */
export const STATUS_OF: Record<DomainErrorCode, number> = {
  bad_request: HttpStatus.BAD_REQUEST,
  unauthorized: HttpStatus.UNAUTHORIZED,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

interface HttpResponse {
  headersSent: boolean;
  status(code: number): HttpResponse;
  json(body: unknown): void;
}

function body(statusCode: number, message: string | string[]): ErrorBodyDto {
  return { statusCode, error: STATUS_CODES[statusCode] ?? 'Error', message };
}

/** Errors from Express middleware (body-parser's malformed JSON, payload too large) carry a 4xx `status` and `expose`. */
function isExposedHttpError(error: unknown): error is { status: number; message: string } {
  const e = error as { status?: unknown; expose?: unknown };
  return typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose === true;
}

/**
 * Turns every error into `{ statusCode, error, message }` (contract §3): domain errors by code,
 * Nest's HTTP exceptions (validation, unknown route, throttling) by status, anything else into a
 * 500 with an error id that is logged once with the stack. Messages of unknown errors never reach
 * the client (they may hold SQL or internals).
 */
@Catch()
export class DomainExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HTTP');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const response = host.switchToHttp().getResponse<HttpResponse>();
    const payload = this.toBody(exception);
    if (response.headersSent) return;
    response.status(payload.statusCode).json(payload);
  }

  private toBody(exception: unknown): ErrorBodyDto {
    if (exception instanceof DomainError) return body(STATUS_OF[exception.code], exception.message);
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      const response = exception.getResponse();
      const message =
        typeof response === 'object' && response !== null && 'message' in response
          ? response.message
          : exception.message;
      return body(status, Array.isArray(message) ? message.map(String) : String(message));
    }
    if (isExposedHttpError(exception)) return body(exception.status, exception.message);
    const errorId = randomUUID();
    this.logger.error(`Unhandled error ${errorId}`, exception instanceof Error ? exception.stack : String(exception));
    return { ...body(HttpStatus.INTERNAL_SERVER_ERROR, `Internal server error (error id ${errorId})`), errorId };
  }
}
