/**
 * The docs convention, across the repository: every code block of every README and guide is the
 * literal source of an example file it names (checked by the test kit's one checker), and the
 * examples of public packages without a README test of their own run here. Example files are
 * type-checked with their package's tests (`pnpm typecheck`).
 *
 * The root README's mapping from the design document keeps its fragments (`<!-- not run … -->`):
 * test/seed-readme.test.ts proves each of their lines runs in packages/tiercache/test/seed*.test.ts.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkDoc } from '@tiercache/test-kit/readme'
import { describe, expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')
const packages = readdirSync(join(root, 'packages'))
  .map((dir) => join(root, 'packages', dir))
  .filter((dir) => existsSync(join(dir, 'README.md')))
/** READMEs whose markers name files from the repository root (they show another package's code). */
const rootRelative = new Set([join(root, 'packages', 'store-test-suite')])

describe('every code block is an example file', () => {
  test('README.md', () => {
    const examples = checkDoc(join(root, 'README.md'), {
      exempt: (b) => b.marker?.startsWith('not run') === true,
    })
    expect(examples.length).toBeGreaterThan(0)
  })
  test.each(readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')))('docs/%s', (file) => {
    checkDoc(join(root, 'docs', file), { root })
  })
  test.each(packages.map((dir) => [dir.slice(root.length + 1), dir] as const))(
    '%s/README.md',
    (_name, dir) => {
      checkDoc(join(dir, 'README.md'), { root: rootRelative.has(dir) ? root : dir })
    },
  )
})

/** Public packages whose README examples no package test runs. */
const unrun = packages.filter((dir) => {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { private?: boolean }
  return pkg.private !== true && !existsSync(join(dir, 'test', 'readme.test.ts')) && !rootRelative.has(dir)
})

describe('README examples run', () => {
  const examples = unrun.flatMap((dir) =>
    checkDoc(join(dir, 'README.md')).map(({ file }) => [file.slice(root.length + 1), file]),
  )
  test('there are examples to run', () => {
    expect(examples.length).toBeGreaterThan(3)
  })
  test.each(examples)('%s', async (_name, file) => {
    await import(/* @vite-ignore */ file as string)
  })
})

/** The source of each `exports` entry of a package (`./dist/x.js` → `src/x.ts`; sources as they are). */
function entrySources(dir: string): string[] {
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    exports?: Record<string, unknown>
  }
  const targets = Object.values(pkg.exports ?? {}).map((e) =>
    typeof e === 'string' ? e : ((e as { default?: string; import?: string }).default ?? ''),
  )
  return targets
    .filter((t) => /\.(js|ts)$/.test(t))
    .map((t) => join(dir, t.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')))
}

test.each(
  packages.flatMap((dir) => entrySources(dir).map((file) => [file.slice(root.length + 1), file] as const)),
)('%s opens with an @module TSDoc header', (_name, file) => {
  const source = readFileSync(file, 'utf8')
  const header = /^(?:#!.*\n)?\/\*\*([\s\S]*?)\*\//.exec(source)
  expect(header, 'a /** … */ comment first').not.toBeNull()
  expect(header?.[1]).toMatch(/@module/)
})
