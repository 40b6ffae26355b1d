/**
 * The breaker around a real Redis (a `redis-server` child process of this test) in an engine
 * with memory (L1) and SQLite (L3), under a steady mixed load, through three kinds of outage:
 * the server killed and restarted, the network slowed by a latency proxy, and the server frozen
 * with SIGSTOP. No mocks: the only test double is the TCP proxy.
 */

import { join } from 'node:path'
import { type Cache, createCache, isTierCacheError, type TierStats } from '@tiercache/core'
import { kyselyStore } from '@tiercache/fallback-kysely'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'
import { tempDir } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, describe, expect, test, vi } from 'vitest'
import { type BreakerStore, type StateChangeEvent, withBreaker } from '../src/index.js'
import { startLatencyProxy } from './latency-proxy.js'
import { type Load, percentile, startLoad, value } from './load.js'

/** Breaker settings under test. */
const THRESHOLD = 5
const RESET = 1000
const TIMEOUT = 250
/** Keys the load reads and writes; L1 holds far fewer, so most reads reach L2. */
const KEYS = 400
const NS = `outage${process.pid}`

const { dir, remove: removeDir } = tempDir('tiercache-breaker')
afterAll(() => removeDir())

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Rig {
  readonly cache: Cache
  readonly l2: BreakerStore<Uint8Array>
  readonly prefix: string
  /** State changes with the `performance.now()` at which they happened. */
  readonly changes: (StateChangeEvent & { readonly t: number; readonly failuresSoFar: number })[]
  /** Errors the engine reported through its `error` event. */
  readonly engineErrors: unknown[]
  readonly l2Stats: () => TierStats
}

function rig(url: string, name: string): Rig {
  const prefix = `tc${process.pid}${name}:`
  const l2 = withBreaker(
    redisStore({
      url,
      prefix,
      commandTimeout: 2000,
      // Reconnect every 50 ms, so recovery is bounded by the breaker, not by client backoff.
      redisOptions: { retryStrategy: () => 50 },
    }),
    // One instance writes this Redis: journaled writes may be replayed as writes, which keeps L2
    // warm across the outage (the multi-instance default replays them as deletes).
    { failureThreshold: THRESHOLD, resetTimeout: RESET, timeout: TIMEOUT, replayWrites: true },
  )
  const changes: Rig['changes'][number][] = []
  l2.on('state:change', (e) =>
    changes.push({ ...e, t: performance.now(), failuresSoFar: l2.counters.failures }),
  )
  const cache = createCache({
    namespace: NS,
    tiers: [
      memoryStore({ maxEntries: 50, maxBytes: 1024 * 1024 }),
      l2,
      kyselyStore({ sqlite: join(dir, `${name}.db`) }),
    ],
    ttl: '1h',
    tierTimeout: '5s',
  })
  const engineErrors: unknown[] = []
  cache.on('error', (e) => engineErrors.push(e.error))
  const l2Stats = (): TierStats => cache.getStats().tiers[1] as TierStats
  return { cache, l2, prefix, changes, engineErrors, l2Stats }
}

/** L2 hit ratio between two stats snapshots. */
function hitRatio(from: TierStats, to: TierStats): number {
  const hits = to.hits - from.hits
  const misses = to.misses - from.misses
  return hits + misses === 0 ? 0 : hits / (hits + misses)
}

async function existing(server: RedisServer, keys: readonly string[]): Promise<number> {
  if (keys.length === 0) return 0
  return Number(await server.command('EXISTS', ...keys))
}

/**
 * Warms the cache, runs the load, disrupts Redis, waits, repairs it, waits for the breaker to
 * close, and returns what happened. Victim keys are written before the outage and deleted only
 * during it.
 */
async function scenario(
  r: Rig,
  disrupt: () => Promise<void> | void,
  repair: () => Promise<void> | void,
  outageMs: number,
) {
  const { cache, l2 } = r
  for (let i = 0; i < KEYS; i++) await cache.set(`k${i}`, value(i))
  const victims = Array.from({ length: 200 }, (_, i) => `victim:${i}`)
  for (const v of victims) await cache.set(v, value(-1))
  const pool: string[] = []
  const load: Load = startLoad(cache, { keys: KEYS, victims: pool })

  await sleep(300)
  const steadyFrom = r.l2Stats()
  await sleep(1200)
  const steadyTo = r.l2Stats()

  const disruptedAt = performance.now()
  await disrupt()
  pool.push(...victims)
  await vi.waitFor(() => expect(l2.state).toBe('open'), { timeout: 5000, interval: 5 })
  const openAt = (r.changes.find((c) => c.to === 'open') as { t: number }).t
  await sleep(outageMs)
  pool.length = 0
  const deletedDuringOutage = load.deleted.map((d) => d.key)
  const repairAt = performance.now()
  await repair()
  const repairedAt = performance.now()
  await vi.waitFor(() => expect(l2.state).toBe('closed'), { timeout: 10_000, interval: 5 })
  const closedAt = (r.changes.findLast((c) => c.to === 'closed') as { t: number }).t
  const recoveredFrom = r.l2Stats()
  await sleep(1500)
  const recoveredTo = r.l2Stats()
  await load.stop()

  const outageCalls = load.samples.filter((s) => s.start >= openAt && s.start < repairAt)
  const disruptionCalls = load.samples.filter((s) => s.start >= disruptedAt && s.start < repairAt)
  return {
    load,
    victims,
    deletedDuringOutage,
    disruptedAt,
    openAt,
    repairAt,
    repairedAt,
    closedAt,
    outageCalls,
    disruptionCalls,
    steadyRatio: hitRatio(steadyFrom, steadyTo),
    recoveredRatio: hitRatio(recoveredFrom, recoveredTo),
  }
}

/** What every outage must show. */
async function expectRecovered(r: Rig, result: Awaited<ReturnType<typeof scenario>>, server: RedisServer) {
  const { load, l2 } = { load: result.load, l2: r.l2 }
  if (process.env.BREAKER_OUTAGE_REPORT) {
    console.log({
      calls: load.samples.length,
      outageCalls: result.outageCalls.length,
      p99Outage: percentile(result.outageCalls, 99),
      maxDisruption: Math.max(...result.disruptionCalls.map((s) => s.ms)),
      openAfterMs: result.openAt - result.disruptedAt,
      closeAfterRepairMs: result.closedAt - result.repairedAt,
      steadyRatio: result.steadyRatio,
      recoveredRatio: result.recoveredRatio,
      deleted: result.deletedDuringOutage.length,
      counters: l2.counters,
      changes: r.changes.map((c) => `${c.to}:${c.reason}@${Math.round(c.t - result.disruptedAt)}`),
    })
  }
  // Zero failed calls to the cache API, and a real load.
  expect(load.failures).toEqual([])
  expect(load.samples.length).toBeGreaterThan(500)
  expect(result.outageCalls.length).toBeGreaterThan(100)

  // The breaker opened on the configured threshold, before refusing anything.
  const opened = r.changes.find((c) => c.to === 'open')
  expect(opened?.reason).toBe('failure-threshold')
  expect(opened?.failuresSoFar).toBeGreaterThanOrEqual(THRESHOLD)
  expect(l2.counters.rejections).toBeGreaterThan(0)
  // The engine skipped the open tier: refusals count as skipped, not as errors (no error flood).
  expect(r.l2Stats().skipped).toBeGreaterThan(0)
  expect(r.engineErrors.some((e) => isTierCacheError(e, 'E_CIRCUIT_OPEN'))).toBe(false)

  // Once open, calls never wait on Redis: a call that did would take at least the breaker's call
  // timeout (TIMEOUT); refused calls take microseconds (plus whatever a loaded machine adds).
  expect(percentile(result.outageCalls, 99)).toBeLessThan(TIMEOUT)

  // Back: once Redis is repaired the breaker closes through a half-open probe, paced by the breaker
  // (resetTimeout), not by client backoff: within a few probes (one, unless a probe on a loaded
  // machine ran past the call timeout). Counted, not timed: a probe may start late, never skipped.
  const afterRepair = r.changes.filter((c) => c.t >= result.repairAt)
  const firstClose = afterRepair.findIndex((c) => c.to === 'closed')
  expect(firstClose).toBeGreaterThanOrEqual(0)
  expect(afterRepair[firstClose]?.from).toBe('half-open')
  const probes = afterRepair.slice(0, firstClose + 1).filter((c) => c.to === 'half-open').length
  expect(probes).toBeGreaterThanOrEqual(1)
  expect(probes).toBeLessThanOrEqual(3)

  // The L2 hit ratio recovers: writes journaled during the outage were replayed, and reads that
  // miss L2 refill it from L3 (this cache has no bus, so its local SQLite may feed L2).
  expect(result.steadyRatio).toBeGreaterThan(0.3)
  // Keys loaded while L2 was open are not in it yet: each costs one L2 miss before its first
  // back-fill, within the 1.5 s measured; half the steady ratio shows L2 serving again.
  expect(result.recoveredRatio).toBeGreaterThan(result.steadyRatio * 0.5)

  // No stale L2: every delete made during the outage reached Redis; the other victims are still there.
  const deleted = new Set(result.deletedDuringOutage)
  expect(deleted.size).toBeGreaterThan(20)
  const kept = result.victims.filter((v) => !deleted.has(v))
  const redisKey = (k: string) => `${r.prefix}${NS}:${k}`
  expect(await existing(server, [...deleted].map(redisKey))).toBe(0)
  expect(await existing(server, kept.map(redisKey))).toBe(kept.length)
  expect(l2.journalSize).toBe(0)
}

describe('outages of a real Redis under load', () => {
  test('redis-server killed and restarted', async () => {
    // Persist every write, so the restarted server still holds what it held: a delete that
    // never reached it would come back with it.
    const server = await startRedis({ args: ['--appendonly', 'yes', '--appendfsync', 'always'] })
    const r = rig(server.url, 'kill')
    try {
      const result = await scenario(
        r,
        () => server.kill(),
        () => server.restart(),
        2500,
      )
      await expectRecovered(r, result, server)
    } finally {
      await r.cache.close()
      await server.stop()
    }
  })

  test('slow network: 500 ms of added latency trips the breaker by timeouts; removing it closes it', async () => {
    const server = await startRedis()
    const proxy = await startLatencyProxy(server)
    const r = rig(proxy.url, 'slow')
    try {
      const result = await scenario(
        r,
        () => {
          proxy.latency = 500
        },
        async () => {
          // Removing the latency is done when the bytes already delayed have arrived.
          proxy.latency = 0
          await proxy.drained()
        },
        2000,
      )
      await expectRecovered(r, result, server)
      expectTimedOut(r, result)
    } finally {
      await r.cache.close()
      await proxy.close()
      await server.stop()
    }
  })

  test('redis-server frozen with SIGSTOP (connection open, no answers): same as a slow network', async () => {
    const server = await startRedis()
    const r = rig(server.url, 'stop')
    try {
      const result = await scenario(
        r,
        () => server.pause(),
        () => server.resume(),
        2000,
      )
      await expectRecovered(r, result, server)
      expectTimedOut(r, result)
    } finally {
      await r.cache.close()
      await server.stop()
    }
  })
})

/** The failures that opened the breaker were its own timeouts, and no cache call waited on Redis. */
function expectTimedOut(r: Rig, result: Awaited<ReturnType<typeof scenario>>): void {
  expect(r.l2.counters.timeouts).toBeGreaterThanOrEqual(THRESHOLD)
  const timeouts = r.engineErrors.filter((e) => isTierCacheError(e, 'E_STORE_TIMEOUT'))
  expect(timeouts.length).toBeGreaterThan(0)
  for (const e of timeouts) expect((e as { timeout?: number }).timeout).toBe(TIMEOUT)
  // Even before the breaker opened, a call waited at most a few timeouts, never for Redis.
  const slowest = Math.max(...result.disruptionCalls.map((s) => s.ms))
  expect(slowest).toBeLessThan(450)
}
