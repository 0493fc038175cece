import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { QueryFailedError } from 'typeorm';
import { classifyDatabaseError, databaseErrorMessage, safeText, sqlStateOf } from './sql-helpers.js';

/** An error as the pg driver reports it (a server ErrorResponse). */
function driverError(code: string, message = `error ${code}`): pg.DatabaseError {
  const error = new pg.DatabaseError(message, 0, 'error');
  error.code = code;
  return error;
}

/** The same, wrapped as TypeORM's DataSource.query rethrows it. */
const wrapped = (code: string, message?: string) =>
  new QueryFailedError('INSERT …', [], driverError(code, message)) as Error;

describe('classifyDatabaseError', () => {
  it.each([
    ['22021', 'invalid byte sequence (U+0000 in text)'],
    ['22P02', 'invalid text representation'],
    ['22003', 'numeric value out of range'],
    ['22001', 'string too long for the column'],
    ['23505', 'unique violation'],
    ['23503', 'foreign-key violation'],
    ['23514', 'check violation (no partition for the row)'],
    ['54000', 'program limit exceeded (index row too large)'],
  ])('never retries %s (%s): the same rows fail the same way', (code) => {
    expect(classifyDatabaseError(driverError(code))).toBe('refused');
    expect(classifyDatabaseError(wrapped(code))).toBe('refused');
  });

  it.each([
    ['08006', 'connection failure'],
    ['08P01', 'protocol violation'],
    ['53300', 'too many connections'],
    ['53100', 'disk full'],
    ['57P01', 'admin shutdown'],
    ['57P03', 'cannot connect now (starting up)'],
    ['40001', 'serialization failure'],
    ['40P01', 'deadlock detected'],
    ['42P01', 'undefined table: the schema, not a row, is at fault'],
    ['42501', 'insufficient privilege: the grant, not a row, is at fault'],
    ['XX000', 'internal error'],
  ])('retries %s (%s)', (code) => {
    expect(classifyDatabaseError(driverError(code))).toBe('transient');
    expect(classifyDatabaseError(wrapped(code))).toBe('transient');
  });

  it('retries errors without a SQLSTATE: sockets, pool timeouts, a terminated connection', () => {
    const socket = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const pipe = Object.assign(new Error('write EPIPE'), { code: 'EPIPE' });
    expect(classifyDatabaseError(socket)).toBe('transient');
    expect(classifyDatabaseError(pipe)).toBe('transient');
    expect(classifyDatabaseError(new Error('timeout exceeded when trying to connect'))).toBe('transient');
    expect(classifyDatabaseError(new QueryFailedError('SELECT 1', [], new Error('Connection terminated')))).toBe(
      'transient',
    );
    expect(classifyDatabaseError(undefined)).toBe('transient');
    expect(classifyDatabaseError('a string')).toBe('transient');
    expect(sqlStateOf(pipe)).toBeUndefined();
    expect(sqlStateOf(wrapped('22021'))).toBe('22021');
  });
});

describe('databaseErrorMessage', () => {
  it("gives the database's own first line", () => {
    expect(databaseErrorMessage(wrapped('22021', 'invalid byte sequence for encoding "UTF8": 0x00\nDETAIL'))).toBe(
      'invalid byte sequence for encoding "UTF8": 0x00',
    );
    expect(databaseErrorMessage(new Error('Connection terminated'))).toBe('Connection terminated');
  });
});

describe('safeText', () => {
  it('writes U+0000 and unpaired surrogates as escapes, and leaves everything else alone', () => {
    expect(safeText('2.\u00001')).toBe('2.\\u00001');
    expect(safeText('a\ud800b\udc00c')).toBe('a\\ud800b\\udc00c');
    expect(safeText('ok 😀 é \\u0000')).toBe('ok 😀 é \\u0000');
  });
});
