#!/usr/bin/env node
// The README's test command: build every package, type-check every package's sources, tests and
// README examples (turbo's typecheck task), then run every test project once with vitest, then
// print "N passed, N failed" from vitest's JSON report. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const report = join(root, 'reports', 'vitest.json')

function run(cmd, args) {
  console.log(`\n$ ${cmd} ${args.join(' ')}`)
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: process.env })
  return r.status ?? 1
}

if (run('pnpm', ['run', 'build']) !== 0) {
  console.log('\nbuild failed\n0 passed, 1 failed')
  process.exit(1)
}

if (run('pnpm', ['exec', 'turbo', 'run', 'typecheck', '--output-logs=errors-only']) !== 0) {
  console.log('\ntype check failed\n0 passed, 1 failed')
  process.exit(1)
}

mkdirSync(dirname(report), { recursive: true })
rmSync(report, { force: true })
const extra = process.argv.slice(2)
const status = run('pnpm', ['exec', 'vitest', 'run', ...extra])

if (!existsSync(report)) {
  console.log('\nvitest wrote no report\n0 passed, 1 failed')
  process.exit(1)
}
const json = JSON.parse(readFileSync(report, 'utf8'))
const passed = json.numPassedTests ?? 0
// A test file that fails before running its tests (an import error, a failing beforeAll) has no
// failed test of its own; count each such file as one failure so it cannot pass unnoticed.
const brokenFiles = (json.testResults ?? []).filter(
  (f) => f.status === 'failed' && !(f.assertionResults ?? []).some((a) => a.status === 'failed'),
).length
const failed = (json.numFailedTests ?? 0) + brokenFiles
const skipped = (json.numPendingTests ?? 0) + (json.numTodoTests ?? 0)
if (skipped > 0) console.log(`\n${skipped} skipped or todo tests are counted as failed`)
console.log(`\n${passed} passed, ${failed + skipped} failed`)
process.exit(status !== 0 || failed + skipped > 0 || passed === 0 ? 1 : 0)
