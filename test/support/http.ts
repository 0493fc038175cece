/**
 * The parsed JSON body of a supertest response, as the type the API documents for it (its DTO).
 * supertest types `body` as `any`; this states what the test expects instead, so that reading a
 * field is checked. A cast, not a validation: the assertions on the body do the checking.
 */
export function bodyOf<T>(res: { readonly body: unknown }): T {
  return res.body as T;
}
