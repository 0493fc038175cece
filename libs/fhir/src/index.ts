export * from './fhir-catalog.js';
export * from './fhir-resource.mapper.js';
export * from './fhir-search.js';
