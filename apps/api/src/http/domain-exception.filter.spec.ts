import { describe, expect, it } from '@jest/globals';
import { BadRequestException, Logger, type ArgumentsHost } from '@nestjs/common';
import { ConflictError, ForbiddenError, NotFoundError, UnauthorizedError } from '@lantern/domain';
import { DomainExceptionFilter } from './domain-exception.filter.js';

function run(exception: unknown): { status: number; body: Record<string, unknown> } {
  const sent: { status: number; body: Record<string, unknown> } = { status: 0, body: {} };
  const response = {
    headersSent: false,
    status(code: number) {
      sent.status = code;
      return response;
    },
    json(body: Record<string, unknown>) {
      sent.body = body;
    },
  };
  const host = {
    getType: () => 'http',
    switchToHttp: () => ({ getResponse: () => response }),
  } as unknown as ArgumentsHost;
  new DomainExceptionFilter().catch(exception, host);
  return sent;
}

describe('DomainExceptionFilter', () => {
  it.each([
    [new NotFoundError('Patient', 'p1'), 404, 'Not Found', 'Patient p1 not found'],
    [new ConflictError('taken'), 409, 'Conflict', 'taken'],
    [new ForbiddenError(), 403, 'Forbidden', 'Not allowed for this user'],
    [new UnauthorizedError('Missing access token'), 401, 'Unauthorized', 'Missing access token'],
  ])('maps %p by its code', (error, statusCode, name, message) => {
    expect(run(error)).toEqual({ status: statusCode, body: { statusCode, error: name, message } });
  });

  it('keeps validation message lists', () => {
    expect(run(new BadRequestException(['a must be a string', 'b should not exist'])).body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      message: ['a must be a string', 'b should not exist'],
    });
  });

  it('answers unknown errors with 500 and an error id, logged once, without their message', () => {
    const logged: string[] = [];
    const original = Logger.prototype.error;
    Logger.prototype.error = function (message: string) {
      logged.push(message);
    };
    try {
      const { status, body } = run(new Error('duplicate key value violates unique constraint "secret_stuff"'));
      expect(status).toBe(500);
      expect(body.errorId).toEqual(expect.stringMatching(/^[0-9a-f-]{36}$/));
      expect(body).toEqual({
        statusCode: 500,
        error: 'Internal Server Error',
        message: `Internal server error (error id ${String(body.errorId)})`,
        errorId: body.errorId,
      });
      expect(logged).toEqual([`Unhandled error ${String(body.errorId)}`]);
    } finally {
      Logger.prototype.error = original;
    }
  });
});
