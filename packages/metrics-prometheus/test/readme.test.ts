import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { readdirSync, readFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { checkReadme } from '@tiercache/test-kit/readme'
import { register } from 'prom-client'
import { afterEach, expect, test, vi } from 'vitest'
import { DEFAULT_LOADER_BUCKETS, DEFAULT_OPERATION_BUCKETS } from '../src/options.js'
import { parseMetrics } from './helpers.js'
import { exportedMetricNames } from './promql.js'

const root = join(import.meta.dirname, '..')
const readme = readFileSync(join(root, 'README.md'), 'utf8')
const examples = readdirSync(join(root, 'test', 'examples')).map((f) => join(root, 'test', 'examples', f))

afterEach(() => vi.restoreAllMocks())

test('the README shows every example file, and names the package and its peers', () => {
  expect(checkReadme(root).sort()).toEqual(examples.sort())
})

test('the metrics table lists every exported metric, and only those', async () => {
  const exported = await exportedMetricNames()
  const listed = new Set([...readme.matchAll(/^\| `(cache_[a-z_]+)`/gm)].map((m) => m[1] as string))
  // Histograms are listed once, without their _bucket, _sum and _count series.
  const base = (n: string): string => {
    const h = n.replace(/_(bucket|sum|count)$/, '')
    return exported.has(`${h}_bucket`) ? h : n
  }
  const expected = new Set([...exported].map(base))
  expect([...listed].sort()).toEqual([...expected].sort())
})

test('the documented defaults are the code defaults', async () => {
  expect(readme).toMatch(/\| `timing` +\| `true` +\|/)
  // The L1 sampling interval is core's: the one a plugin is told about by default.
  let l1SampleEvery = 0
  const cache = createCache({
    tiers: [memoryStore()],
    plugins: [
      {
        name: 'probe',
        install: (_cache, context) => {
          l1SampleEvery = context.l1SampleEvery
        },
      },
    ],
  })
  await cache.close()
  expect(l1SampleEvery).toBe(64)
  expect(readme).toContain(`(\`l1SampleEvery\`, default ${l1SampleEvery}:`)
  expect(readme).toContain(DEFAULT_OPERATION_BUCKETS.join(', '))
  expect(readme).toContain(DEFAULT_LOADER_BUCKETS.join(', '))
})

test('the quick start runs', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  await import('./examples/quick-start.js')
  expect(log.mock.calls).toEqual([
    ['cache_hits_total{namespace="app",level="l1_memory"} 1'],
    ['cache_misses_total{namespace="app",level="l1_memory"} 1'],
  ])
})

test('the Redis example runs', async () => {
  process.env.CACHE_PREFIX = `tc-test:metrics-readme:${randomUUID().slice(0, 8)}:`
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/redis.js')
    expect(log.mock.calls).toEqual([
      ['cache_hits_total{namespace="app",level="l2_redis"} 1'],
      ['cache_level_up{namespace="app",level="l2_redis"} 1'],
    ])
  } finally {
    delete process.env.CACHE_PREFIX
  }
})

test('the global registry example runs', async () => {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/global-registry.js')
    expect(log.mock.calls).toEqual([
      [
        [
          'cache_misses_total{namespace="users",level="l1_memory"} 1',
          'cache_misses_total{namespace="pages",level="l1_memory"} 1',
        ],
      ],
      [true],
    ])
  } finally {
    register.clear()
  }
})

async function scrapeApp(server: Server): Promise<void> {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)
    expect(res.status).toBe(200)
    const samples = parseMetrics(await res.text())
    expect(samples.some((s) => s.name === 'cache_level_up' && s.labels.namespace === 'app')).toBe(true)
  } finally {
    await new Promise((r) => server.close(r))
  }
}

test('the Express example serves /metrics', async () => {
  const { app, cache } = await import('./examples/express.js')
  await scrapeApp(createServer(app))
  await cache.close()
})

test('the Koa example serves /metrics', async () => {
  const { app, cache } = await import('./examples/koa.js')
  await scrapeApp(createServer(app.callback()))
  await cache.close()
})
