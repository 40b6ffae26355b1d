/** The one linter and formatter, Biome, passes on the whole repository. */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { expect, test } from 'vitest'

const exec = promisify(execFile)
const root = join(import.meta.dirname, '..')

test('biome check passes (lint and format)', async () => {
  const result = await exec(
    join(root, 'node_modules', '.bin', 'biome'),
    ['check', '--max-diagnostics=50', '.'],
    {
      cwd: root,
      maxBuffer: 20 * 2 ** 20,
    },
  ).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  )
  expect(result.code, result.out).toBe(0)
})
