import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderMarkdown, type BenchReport } from './report.js';

/**
 * Where `npm run bench` writes its two reports (docs/benchmarks.md and bench/reports/latest.json, or
 * both in --out-dir) and the targets' lines it prints after them.
 */
export function writeBenchReport(
  report: BenchReport,
  outDir: string | undefined,
  root: string,
  log: (line: string) => void,
): void {
  const mdPath = outDir ? join(outDir, 'benchmarks.md') : join(root, 'docs/benchmarks.md');
  const jsonPath = outDir ? join(outDir, 'latest.json') : join(root, 'bench/reports/latest.json');
  for (const p of [mdPath, jsonPath]) mkdirSync(dirname(p), { recursive: true });
  writeFileSync(jsonPath, `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(mdPath, renderMarkdown(report));
  log(`\nwrote ${mdPath} and ${jsonPath}`);
  for (const t of report.targets)
    log(
      `  ${t.met === null ? '–' : t.met ? '✓' : '✗'} ${t.name}: ${t.measured} (target ${t.target})${t.note ? ` — ${t.note}` : ''}`,
    );
}
