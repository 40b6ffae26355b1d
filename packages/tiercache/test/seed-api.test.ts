import { join } from 'node:path'
import { tempDir, uniqueName } from '@tiercache/test-kit'
import { freePort } from '@tiercache/test-servers'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import {
  CacheCircuitBreaker,
  type CacheConfigFields,
  CircuitOpenError,
  createDistributedCache,
  type DistributedCache,
  escapePattern,
  isPattern,
  isTierCacheError,
} from '../src/index.js'
import { assertSqlDriver } from '../src/sql-driver.js'
import { memoryLogger } from './helpers.js'

const tmp = tempDir()
const open: DistributedCache[] = []
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})
afterAll(() => tmp.remove())

function make(config: CacheConfigFields): DistributedCache {
  const cache = createDistributedCache({ env: {}, logger: false, ...config })
  open.push(cache)
  return cache
}

describe('delete(pattern)', () => {
  test("delete('user:*') removes every user and nothing else; escaped * and ? are literal", async () => {
    const cache = make({ fallbackDb: join(tmp.dir, 'pattern.db'), namespace: uniqueName('pat') })
    await cache.set('user:1', 1)
    await cache.set('user:2', 2)
    await cache.set('user_profile:1', 3)
    await cache.set('a*b', 4)
    await cache.set('axb', 5)
    cache.flushLocal() // the SQL tier answers too
    expect(await cache.delete('user:*')).toBe(true)
    expect(await cache.get('user:1')).toBeUndefined()
    expect(await cache.get('user:2')).toBeUndefined()
    expect(await cache.get('user_profile:1')).toBe(3)
    expect(await cache.delete('user:*')).toBe(false)
    expect(await cache.delete(escapePattern('a*b'))).toBe(true) // the one key a*b
    expect(await cache.get('a*b')).toBeUndefined()
    expect(await cache.get('axb')).toBe(5)
    await cache.set('a\\b', 6) // a backslash alone is no pattern
    expect(await cache.delete('a\\b')).toBe(true)
    expect(await cache.delete('user_profile:1')).toBe(true)
    expect(isPattern('user:*')).toBe(true)
    expect(isPattern('user:?')).toBe(true)
    expect(isPattern('a\\b')).toBe(false)
    expect(isPattern('user:123')).toBe(false)
  })
})

describe('start-up line', () => {
  test('embedded mode says so, with the tiers and the SQLite file', () => {
    const logger = memoryLogger()
    const file = join(tmp.dir, 'start.db')
    make({ fallbackDb: file, logger })
    expect(logger.lines).toEqual([
      {
        level: 'info',
        msg: `tiercache: embedded mode (no Redis configured; set REDIS_URL or redisHost to add it): L1 memory 100 MiB -> L2 sqlite ${file} (namespace app, ttl 3600 s, numbers of time in seconds, no bus, warming at 10 reads/min, metrics)`,
      },
    ])
  })

  test('a relative SQLite path is shown absolute; with Redis the line names it', async () => {
    const logger = memoryLogger()
    const port = await freePort()
    const c = make({ redisPort: port, fallbackToDb: false, logger })
    expect(logger.lines[0]?.msg).toBe(
      `tiercache: L1 memory 100 MiB -> L2 redis 127.0.0.1:${port}/0 behind a circuit breaker (namespace app, ttl 3600 s, numbers of time in seconds, redis bus, warming at 10 reads/min, metrics)`,
    )
    expect(c.describe()).toContain('numbers of time in seconds')
    const rel = make({
      fallbackDb: './.tiercache/x.db',
      enableMetrics: false,
      fallbackToDb: true,
      logger: false,
    })
    expect(rel.describe()).toContain(`L2 sqlite ${join(process.cwd(), '.tiercache/x.db')}`)
    expect(make({ timeUnit: 'ms', defaultTtl: 1500, fallbackToDb: false }).describe()).toContain(
      'ttl 1500 ms, numbers of time in milliseconds',
    )
  })
})

describe('the SQL driver is an optional peer', () => {
  test('a missing driver is E_DRIVER_MISSING naming the package to install and the way around it', () => {
    const missing = (name: string): string => {
      throw Object.assign(new Error(`Cannot find module '${name}'`), { code: 'MODULE_NOT_FOUND' })
    }
    let error: unknown
    try {
      assertSqlDriver('./.tiercache/cache.db', missing)
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_DRIVER_MISSING')).toBe(true)
    expect((error as { driver: string }).driver).toBe('better-sqlite3')
    expect(String((error as Error).message)).toMatch(
      /needs the package "better-sqlite3", which is not installed: run `npm install better-sqlite3`.*fallbackToDb: false/,
    )
    expect(() => assertSqlDriver('postgres://h/db', missing)).toThrow(/"pg"/)
    expect(() => assertSqlDriver('mysql://h/db', missing)).toThrow(/"mysql2"/)
    expect(() => assertSqlDriver('./x.db')).not.toThrow() // installed here
  })
})

describe('breaker options in the seed terms', () => {
  test('5 failures / 60 s by default; breaker numbers are seconds; breaker.timeout is refused as ambiguous', async () => {
    const port = await freePort()
    const c = make({ redisPort: port, fallbackToDb: false })
    await c.ready()
    expect(c.breaker?.state).toBe('open')
    const refused = await Promise.resolve(c.breaker!.get('x')).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(CircuitOpenError)
    const wait = (refused as CircuitOpenError).retryAt! - Date.now()
    expect(wait).toBeGreaterThan(55_000)
    expect(wait).toBeLessThanOrEqual(60_000)

    const d = make({
      redisPort: port,
      fallbackToDb: false,
      breaker: { resetTimeout: 90, failureThreshold: 1 },
    })
    await d.ready()
    const r2 = (await Promise.resolve(d.breaker!.get('x')).catch((e: unknown) => e)) as CircuitOpenError
    expect(r2.retryAt! - Date.now()).toBeGreaterThan(85_000)

    expect(() => make({ redisPort: port, breaker: { timeout: 60 } })).toThrow(/breaker.timeout is ambiguous/)
  })
})

describe('CacheCircuitBreaker (the seed class)', () => {
  test('opens after 5 failures in a row, refuses for 60 s, half-opens, closes on a success', async () => {
    let now = 1_000_000
    const breaker = new CacheCircuitBreaker(5, 60, { now: () => now })
    const fail = async () => {
      throw new Error('redis down')
    }
    for (let i = 0; i < 4; i++) await expect(breaker.call(fail)).rejects.toThrow('redis down')
    expect(breaker.state).toBe('CLOSED')
    expect(await breaker.call(async (a: number, b: number) => a + b, 1, 2)).toBe(3)
    expect(breaker.failureCount).toBe(0) // a success resets the count (the seed's code did not)
    for (let i = 0; i < 5; i++) await expect(breaker.call(fail)).rejects.toThrow('redis down')
    expect(breaker.state).toBe('OPEN')
    expect(breaker.lastFailureTime).toBe(1000)
    let ran = false
    const refused = await breaker
      .call(() => {
        ran = true
      })
      .catch((e: unknown) => e)
    expect(ran).toBe(false)
    expect((refused as Error).message).toBe('Circuit breaker is OPEN')
    expect(isTierCacheError(refused, 'E_CIRCUIT_OPEN')).toBe(true)
    now += 60_000 // exactly 60 s: still open (the seed waits for more than timeout)
    await expect(breaker.call(() => 1)).rejects.toThrow('Circuit breaker is OPEN')
    now += 1
    await expect(breaker.call(fail)).rejects.toThrow('redis down') // the half-open probe failed
    expect(breaker.state).toBe('OPEN')
    now += 60_001
    expect(await breaker.call(() => 'ok')).toBe('ok')
    expect(breaker.state).toBe('CLOSED')
    expect(breaker.failureCount).toBe(0)
    expect(() => new CacheCircuitBreaker(0)).toThrow(/failureThreshold/)
    expect(() => new CacheCircuitBreaker(5, 0)).toThrow(/timeout/)
    expect(new CacheCircuitBreaker(5, '2m').timeout).toBe(120)
  })
})
