/**
 * Keeps the store guide and the conformance suite's README true: every TypeScript block in them is
 * the literal source of a file in this repository that is built or run by tests, the L2 example
 * runs, and the suite README's list of checks is the suite's list of tests.
 */

import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { tempDir } from '@tiercache/test-kit'
import { checkDoc, readmeBlocks } from '@tiercache/test-kit/readme'
import { describe, expect, test, vi } from 'vitest'
import { fsStore } from '../src/index.js'

const repo = join(import.meta.dirname, '../../..')
const read = (path: string): string => readFileSync(join(repo, path), 'utf8')

describe.each(['docs/writing-a-store.md', 'packages/store-test-suite/README.md'])('%s', (doc) => {
  test('every TypeScript block is the literal source of a repository file', () => {
    expect(checkDoc(join(repo, doc), { root: repo }).length).toBeGreaterThan(0)
    const found = readmeBlocks(read(doc))
    // Shell blocks hold install and run commands only.
    for (const block of found.filter((b) => b.lang !== 'ts')) {
      expect(block.lang).toBe('sh')
      expect(block.code).toMatch(/^(npm install --save-dev [@\w/.-]+( [@\w/.-]+)*|npx vitest run)\n$/)
    }
  })
})

test('the suite README runs in under ten lines and installs every peer', () => {
  const found = readmeBlocks(read('packages/store-test-suite/README.md'))
  const lines = found.reduce((n, b) => n + b.code.split('\n').filter(Boolean).length, 0)
  expect(lines).toBeLessThan(10)
  const pkg = JSON.parse(read('packages/store-test-suite/package.json'))
  const install = found.find((b) => b.code.startsWith('npm install'))!.code
  for (const name of [pkg.name, ...Object.keys(pkg.peerDependencies)]) {
    expect(install).toContain(` ${name}`)
  }
})

test("the suite README's list of checks is the suite's list of tests", () => {
  const names: string[] = []
  runStoreSuite({
    describe: (_name, fn) => fn(),
    test: (name) => void names.push(name),
    expect,
    create: () => fsStore(),
    failing: () => fsStore(),
  })
  const readme = read('packages/store-test-suite/README.md')
  const section = readme.slice(readme.indexOf('## What it checks'))
  const listed = [...section.matchAll(/^- (.+)$/gm)].map((m) => m[1])
  expect(listed).toEqual(names)
})

test('the L2 example of the guide runs', async () => {
  const { dir, remove: removeDir } = tempDir('fs-store-example')
  process.env.CACHE_DIR = dir
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/as-l2.js')
    const value = { name: 'Ada', joined: new Date('2024-01-01') }
    expect(log.mock.calls).toEqual([[value], [value]])
  } finally {
    log.mockRestore()
    delete process.env.CACHE_DIR
    removeDir()
  }
})
