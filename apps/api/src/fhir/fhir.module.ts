import { Module } from '@nestjs/common';
import { FhirController, FhirReadOnlyController } from './fhir.controller.js';
import { FhirExportController } from './fhir-export.controller.js';
import { FhirExportService } from './fhir-export.service.js';
import { FhirRepository } from './fhir.repository.js';
import { FhirService } from './fhir.service.js';

/** The read-only FHIR R4 server at /fhir/R4 (contract §4.5); the mapping itself is @lantern/fhir. */
@Module({
  // Order matters: Nest registers routes in this order, and FhirController's catch-all for unknown
  // resource types (`:type/:id`) would otherwise take `$export-status/:job`; the read-only refusal last.
  controllers: [FhirExportController, FhirController, FhirReadOnlyController],
  providers: [FhirRepository, FhirService, FhirExportService],
})
export class FhirModule {}
