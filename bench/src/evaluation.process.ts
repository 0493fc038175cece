/**
 * One measurement of the streaming core in a process of its own (measureCoreInProcesses, the bench's
 * core phase): argv `patients readings`; prints benchmarkEvaluation's result as one line of JSON.
 */
import { benchmarkEvaluation } from './evaluation.bench.js';

const [patients, readings] = process.argv.slice(2).map(Number);
process.stdout.write(`${JSON.stringify(benchmarkEvaluation({ patients, readings }))}\n`);
