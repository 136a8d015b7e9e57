// Sums the Vitest JSON report (and failed set-up steps, counted as failures)
// into the one line CI reads: "N passed, M failed, K skipped".
import { existsSync, readFileSync } from 'node:fs';

const [file, failedStepsArg = '0', testRcArg = '0'] = process.argv.slice(2);
const failedSteps = Number(failedStepsArg);
let passed = 0;
let failed = failedSteps;
let skipped = 0;
if (file && existsSync(file)) {
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  // A test file that fails to load has no tests in the counts: count it as a failure.
  for (const suite of report.testResults ?? []) {
    if (suite.status === 'failed' && (suite.assertionResults ?? []).length === 0) failed += 1;
  }
  // Vitest exits non-zero on unhandled errors/rejections even when every test passed:
  // count that as a failure so the line agrees with the exit code.
  if (Number(testRcArg) !== 0 && failed === failedSteps && (report.numFailedTests ?? 0) === 0) failed += 1;
} else {
  failed += 1;
}
console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
process.exit(failed > 0 || passed === 0 ? 1 : 0);
