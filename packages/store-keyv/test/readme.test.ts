import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, expect, test, vi } from 'vitest'
import { dropRedisNamespaces, redisNamespace } from './helpers.js'

afterAll(dropRedisNamespaces)

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** Fenced blocks with the `<!-- path -->` marker that may precede them. */
const blocks = [...readme.matchAll(/(?:^<!-- (\S+) -->\n)?^(`{3,})(\w*)\n([\s\S]*?)^\2$/gm)].map((m) => ({
  file: m[1],
  lang: m[3],
  code: m[4] as string,
}))

test('every TypeScript block is the literal source of an example file that a test runs', () => {
  const ts = blocks.filter((b) => b.lang === 'ts')
  expect(ts.length).toBeGreaterThan(0)
  for (const block of ts) {
    expect(block.file, 'a TypeScript block without a <!-- path --> marker').toBeDefined()
    expect(block.code).toBe(readFileSync(join(root, block.file!), 'utf8'))
  }
  expect(blocks.every((b) => b.lang === 'ts' || b.lang === 'sh')).toBe(true)
})

test('the install line names the package and every peer', () => {
  const install = blocks.find((b) => b.lang === 'sh')!.code
  for (const name of [pkg.name, ...Object.keys(pkg.peerDependencies)]) {
    expect(install).toMatch(new RegExp(`\\s${name}(\\s|$)`))
  }
})

test('the Redis example runs', async () => {
  process.env.CACHE_NAMESPACE = redisNamespace()
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/redis-tier.js')
    expect(log.mock.calls).toEqual([[{ name: 'Ada' }]])
  } finally {
    log.mockRestore()
    delete process.env.CACHE_NAMESPACE
  }
})
