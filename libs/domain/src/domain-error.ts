/**
 * Errors as domain values (STYLE.md §7): services throw these with a code; the api's one exception
 * filter maps each code to an HTTP status, the socket gateway to an `error` string. Nothing here
 * knows about HTTP.
 */
export type DomainErrorCode = 'bad_request' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'unavailable';

export class DomainError extends Error {
  constructor(
    readonly code: DomainErrorCode,
    message: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad input the validation layer could not catch (e.g. a reference to an unknown metric). */
export class BadRequestError extends DomainError {
  constructor(message: string) {
    super('bad_request', message);
  }
}

/** No, expired or invalid credentials. */
export class UnauthorizedError extends DomainError {
  constructor(message = 'Authentication required') {
    super('unauthorized', message);
  }
}

/** Authenticated, but this role may not do this. Never used to hide a patient: that is NotFoundError. */
export class ForbiddenError extends DomainError {
  constructor(message = 'Not allowed for this user') {
    super('forbidden', message);
  }
}

/** Unknown, or not visible to the caller: the two must look the same (contract §3). */
export class NotFoundError extends DomainError {
  constructor(what: string, id?: string) {
    super('not_found', id === undefined ? `${what} not found` : `${what} ${id} not found`);
  }
}

/** The request contradicts the current state (duplicate e-mail, illegal alert transition). */
export class ConflictError extends DomainError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** A dependency (database, broker) is down. */
export class UnavailableError extends DomainError {
  constructor(message: string) {
    super('unavailable', message);
  }
}
