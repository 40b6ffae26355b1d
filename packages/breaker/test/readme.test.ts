import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkReadme, readmeBlocks } from '@tiercache/test-kit/readme'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, expect, test, vi } from 'vitest'

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const blocks = readmeBlocks(readme)

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
  process.env.REDIS_URL = server.url
})
afterAll(async () => {
  delete process.env.REDIS_URL
  await server?.stop()
})

test('the README shows the tested examples and names the package and its peers', () => {
  expect(checkReadme(root).length).toBe(2)
  expect(blocks.every((b) => b.lang === 'ts' || b.lang === 'sh')).toBe(true)
})

test('every option in the table is an option of withBreaker, with the documented default', async () => {
  const source = readFileSync(join(root, 'src/options.ts'), 'utf8')
  const declared = [...source.matchAll(/^ {2}readonly (\w+)\?:/gm)].map((m) => m[1])
  const rows = [...readme.matchAll(/^\| `(\w+)` +\| `([^`]+)` +\|/gm)]
  const table = rows.map((m) => m[1])
  const defaultOf = (name: string) => rows.find((m) => m[1] === name)?.[2]
  const breakerOptions = declared.filter((n) => !['maxEntries', 'maxBytes', 'maxEntryBytes'].includes(n!))
  expect(table).toEqual(breakerOptions)
  const defaults = await import('../src/index.js')
  expect(defaultOf('failureThreshold')).toBe(String(defaults.DEFAULT_FAILURE_THRESHOLD))
  expect(defaultOf('failureRatio')).toBe(String(defaults.DEFAULT_FAILURE_RATIO))
  expect(defaultOf('minimumCalls')).toBe(String(defaults.DEFAULT_MINIMUM_CALLS))
  expect(defaultOf('halfOpenMaxCalls')).toBe(String(defaults.DEFAULT_HALF_OPEN_MAX_CALLS))
  expect(defaultOf('window')).toBe("'10s'")
  expect(defaultOf('resetTimeout')).toBe("'30s'")
  expect(defaultOf('callTimeout')).toBe("'500ms'")
  expect(defaultOf('timeout')).toBe("'500ms'")
  expect(defaults.DEFAULT_WINDOW).toBe(10_000)
  expect(defaults.DEFAULT_RESET_TIMEOUT).toBe(30_000)
  expect(defaults.DEFAULT_TIMEOUT).toBe(500)
  expect(defaults.DEFAULT_JOURNAL_MAX_ENTRIES).toBe(10_000)
  expect(defaults.DEFAULT_JOURNAL_MAX_BYTES).toBe(4 * 1024 * 1024)
  expect(defaults.DEFAULT_JOURNAL_MAX_ENTRY_BYTES).toBe(1024)
})

test('the usage example runs against a real Redis', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/redis-tier.js')
    expect(log.mock.calls).toEqual([[{ name: 'Ada' }, 'closed']])
  } finally {
    log.mockRestore()
  }
})

test('the observability example runs', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/observe.js')
    expect(log.mock.calls).toEqual([[0, 0, 0, 0, 0]])
  } finally {
    log.mockRestore()
  }
})
