import type { OutcomeIssueCode } from '@lantern/fhir';

/**
 * An error with the status and OperationOutcome issue type the FHIR filter answers with. Domain
 * errors and Nest's HTTP exceptions are mapped by status in the filter; this is for the FHIR
 * layer's own refusals (an unsupported parameter, a resource type this server does not serve).
 */
export class FhirError extends Error {
  constructor(
    readonly status: number,
    readonly issue: OutcomeIssueCode,
    message: string,
  ) {
    super(message);
    this.name = 'FhirError';
  }
}
