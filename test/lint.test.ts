/**
 * The one linter and formatter, Biome, passes on the whole repository, and fails on what the
 * repository forbids: import cycles (type-only ones too), files over 600 lines, file names that
 * are not kebab-case, and imports of another package's sources or test helpers.
 */
import { execFile } from 'node:child_process'
import { mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

const exec = promisify(execFile)
const root = join(import.meta.dirname, '..')

/** Runs Biome from the repository root; resolves its exit code and output. */
function biome(args: readonly string[]): Promise<{ code: number; out: string }> {
  return exec(join(root, 'node_modules', '.bin', 'biome'), [...args], {
    cwd: root,
    maxBuffer: 20 * 2 ** 20,
  }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  )
}

test('biome check passes (lint and format)', async () => {
  const result = await biome(['check', '--max-diagnostics=50', '.'])
  expect(result.code, result.out).toBe(0)
})

test('biome fails on an import cycle, a long file, a file name that is not kebab-case and a cross-package import', async () => {
  // A folder of offenders, one per rule, inside the repository so its biome.json applies; removed
  // afterwards. Runs after the whole-repository check (tests of one file run in order), which
  // therefore never sees it.
  const dir = join(import.meta.dirname, `lint-probe-${process.pid}`)
  const src = join(dir, 'src')
  mkdirSync(src, { recursive: true })
  try {
    writeFileSync(
      join(src, 'a.ts'),
      "import type { B } from './b.js'\n\nexport type A = { readonly b?: B }\n",
    )
    writeFileSync(
      join(src, 'b.ts'),
      "import type { A } from './a.js'\n\nexport type B = { readonly a?: A }\n",
    )
    writeFileSync(
      join(src, 'long.ts'),
      `${Array.from({ length: 601 }, (_, i) => `export const v${i} = ${i}`).join('\n')}\n`,
    )
    writeFileSync(join(src, 'camelName.ts'), 'export const n = 1\n')
    writeFileSync(
      join(src, 'reach.ts'),
      "export { Routes } from '../../http/test/harness.js'\nexport { Fence } from '@tiercache/core/src/engine/fence.js'\n",
    )
    const result = await biome(['lint', '--max-diagnostics=50', dir])
    expect(result.code, result.out).not.toBe(0)
    const found = (rule: string, file: string): boolean =>
      result.out.split('\n').some((line) => line.includes(file) && line.includes(rule))
    expect(found('noImportCycles', 'a.ts'), result.out).toBe(true)
    expect(found('noImportCycles', 'b.ts'), result.out).toBe(true)
    expect(found('noExcessiveLinesPerFile', 'long.ts'), result.out).toBe(true)
    expect(found('useFilenamingConvention', 'camelName.ts'), result.out).toBe(true)
    expect(result.out.match(/reach\.ts:\d+:\d+ lint\/style\/noRestrictedImports/g)?.length, result.out).toBe(
      2,
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
