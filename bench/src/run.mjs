// Runs every benchmark suite, one process per suite, and prints their tables.
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const only = process.argv.slice(2)
const suites = readdirSync(here)
  .filter((f) => f.endsWith('.mjs') && !['run.mjs', 'lib.mjs'].includes(f) && !f.startsWith('_'))
  .map((f) => f.replace(/\.mjs$/, ''))
  .filter((s) => only.length === 0 || only.includes(s))
let failed = 0
for (const suite of suites) {
  console.log(`\n# ${suite}`)
  const r = spawnSync(process.execPath, ['--expose-gc', join(here, `${suite}.mjs`)], { stdio: 'inherit' })
  if (r.status !== 0) failed++
}
process.exit(failed ? 1 : 0)
