import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkReadme, readmeBlocks } from '@tiercache/test-kit/readme'
import { afterAll, expect, test, vi } from 'vitest'
import { dropRedisNamespaces, redisNamespace } from './helpers.js'

afterAll(dropRedisNamespaces)

const root = join(import.meta.dirname, '..')

test('the README shows the tested example and names the package and its peers', () => {
  expect(checkReadme(root).length).toBeGreaterThan(0)
  expect(
    readmeBlocks(readFileSync(join(root, 'README.md'), 'utf8')).every((b) => ['ts', 'sh'].includes(b.lang)),
  ).toBe(true)
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
