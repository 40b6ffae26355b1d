/**
 * The root README's "Design document mapping" section shows each seed snippet beside its TypeScript form.
 * Those TypeScript forms are not run here; this test proves each of their lines is a line of
 * packages/tiercache/test/seed*.test.ts, which run them and assert what the seed says.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const seedTests = ['seed.test.ts', 'seed-patterns.test.ts'].map((f) =>
  readFileSync(join(root, 'packages/tiercache/test', f), 'utf8'),
)
const section = readme.slice(
  readme.indexOf('## Design document mapping'),
  readme.indexOf('### Where tiercache differs'),
)
const tsBlocks = [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)
/**
 * The seed document: `SEED_DIR` when set, else shared/seed beside the repository (or beside the
 * folder of worktrees), else the workspace's /work/shared/seed (a clone checked out elsewhere).
 */
function seedText(): string {
  const candidates = [
    ...(process.env.SEED_DIR ? [process.env.SEED_DIR] : []),
    ...['..', '../..', '../../..'].map((up) => join(root, up, 'shared', 'seed')),
    '/work/shared/seed',
  ]
  for (const dir of candidates) {
    if (existsSync(dir)) {
      return readdirSync(dir)
        .filter((f) => f.endsWith('.txt'))
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n')
    }
  }
  throw new Error(`the seed document (shared/seed) is not beside ${root}; set SEED_DIR`)
}
const seedSeed = seedText()

test('the section has a TypeScript form for each of the seed’s Python examples', () => {
  const python = [...section.matchAll(/^```python\n([\s\S]*?)^```$/gm)].map((m) => m[1] as string)
  expect(python.length).toBe(14)
  expect(tsBlocks.length).toBe(14)
  // Quoted as the seed has them.
  for (const block of python) expect(seedSeed).toContain(block.trimEnd())
})

test('every line of every TypeScript form is a line of the executable seed test', () => {
  const lines = new Set(seedTests.flatMap((t) => t.split('\n')).map((l) => l.trim()))
  for (const block of tsBlocks) {
    for (const line of block.split('\n').map((l) => l.trim())) {
      if (line === '' || line.startsWith('import ')) continue
      expect(lines.has(line), line).toBe(true)
    }
  }
})
