import { join } from 'node:path'
import { tempDir, uniqueName, waitFor } from '@tiercache/test-kit'
import { freePort, type RedisServer, redisCommands, startRedis } from '@tiercache/test-servers'
import Database from 'better-sqlite3'
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest'
import { createDistributedCache, type DistributedCache, getCache, setDefaultCache } from '../src/index.js'
import { memoryLogger } from './helpers.js'

const tmp = tempDir()
const open: DistributedCache[] = []
let redis: RedisServer

beforeAll(async () => {
  redis = await startRedis()
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()))
})
afterAll(async () => {
  await redis?.stop()
  tmp.remove()
})

function make(config: Parameters<typeof createDistributedCache>[0]): DistributedCache {
  const cache = createDistributedCache({ env: {}, logger: false, ...config })
  open.push(cache)
  return cache
}

async function redisHas(server: RedisServer, key: string): Promise<boolean> {
  return (await server.command('EXISTS', key)) === 1
}

describe('embedded (no Redis configured)', () => {
  test('memory + SQLite, values survive a restart', async () => {
    const fallbackDb = join(tmp.dir, 'embedded.db')
    const namespace = uniqueName('embedded')
    const a = make({ fallbackDb, namespace })
    await a.ready()
    expect(a.getStats().tiers.map((t) => t.level)).toEqual(['l1_memory', 'l2_sql'])
    expect(a.breaker).toBeUndefined()
    expect(a.bus).toBeUndefined()
    await a.set('user:1', { name: 'Ada', born: new Date('1815-12-10') })
    expect(await a.get('user:1')).toEqual({ name: 'Ada', born: new Date('1815-12-10') })
    expect(await a.health()).toEqual({
      status: 'ok',
      mode: 'embedded',
      tiers: [
        { level: 'l1_memory', connected: true },
        { level: 'l2_sql', connected: true },
      ],
    })
    expect(a.describe()).toBe(
      `L1 memory 100 MiB -> L2 sqlite ${fallbackDb} (namespace ${namespace}, ttl 3600 s, numbers of time in seconds, no bus, warming at 10 reads/min, metrics)`,
    )
    await a.close()

    const b = make({ fallbackDb, namespace })
    expect(b.peek('user:1')).toBeUndefined()
    expect(await b.get('user:1')).toEqual({ name: 'Ada', born: new Date('1815-12-10') })
    expect(b.peek('user:1')).toEqual({ name: 'Ada', born: new Date('1815-12-10') }) // backfilled
  })

  test('fallbackDb: a PostgreSQL or MySQL URL picks that dialect (described without credentials)', async () => {
    const pg = make({ fallbackDb: 'postgres://app:secret@127.0.0.1:5432/test' })
    expect(pg.describe()).toContain('-> L2 postgres 127.0.0.1:5432/test (')
    expect(pg.describe()).not.toContain('secret')
    const my = make({ fallbackDb: 'mariadb://root@127.0.0.1:3306/test' })
    expect(my.describe()).toContain('-> L2 mysql 127.0.0.1:3306/test (')
    const file = join(tmp.dir, 'prefixed.db')
    expect(make({ fallbackDb: `sqlite:${file}` }).describe()).toContain(`-> L2 sqlite ${file} (`)
  })

  test('fallbackToDb: false is memory only', async () => {
    const c = make({ fallbackToDb: false, maxMemorySize: '1mb', defaultTtl: 2 })
    expect(c.getStats().tiers.map((t) => t.level)).toEqual(['l1_memory'])
    expect(c.getStats().tiers[0]?.maxBytes).toBe(2 ** 20)
    expect(c.describe()).toContain('L1 memory 1 MiB (namespace app, ttl 2 s')
  })

  test('defaultTtl is the seed seconds: a number 90 keeps entries fresh 90,000 ms', async () => {
    const fallbackDb = join(tmp.dir, 'ttl.db')
    const c = make({ fallbackDb, defaultTtl: 90, namespace: uniqueName('ttl') })
    await c.set('k', 'v')
    await c.set('short', 'v', '2s') // per-call TTLs follow the project's rule (ms or strings)
    const db = new Database(fallbackDb, { readonly: true })
    try {
      const rows = db
        .prepare(
          'SELECT cache_key AS key, fresh_until - created_at AS ttl FROM tiercache_entries ORDER BY cache_key',
        )
        .all() as { key: string; ttl: number }[]
      expect(rows.map((r) => [r.key.split(':')[1], r.ttl])).toEqual([
        ['k', 90_000],
        ['short', 2000],
      ])
    } finally {
      db.close()
    }
  })

  test('getCache() returns it after setDefaultCache()', async () => {
    const c = make({ fallbackToDb: false })
    setDefaultCache(c)
    try {
      expect(getCache()).toBe(c)
      const loadProfile = c.wrap('user_profile', async (id: number) => ({ id }), '1h')
      expect(await loadProfile(7)).toEqual({ id: 7 })
      expect(await c.get('user_profile:7')).toEqual({ id: 7 })
    } finally {
      setDefaultCache(undefined)
    }
  })

  test('metrics reflect the traffic; enableMetrics: false has none', async () => {
    const c = make({ fallbackToDb: false, namespace: 'metrics' })
    await c.set('a', 1)
    await c.get('a')
    await c.get('missing')
    const text = await c.registry!.metrics()
    expect(text).toMatch(/cache_hits_total\{[^}]*level="l1_memory"[^}]*\} 1/)
    expect(text).toContain('cache_misses_total')
    const off = make({ fallbackToDb: false, enableMetrics: false })
    expect(off.registry).toBeUndefined()
    expect(off.metrics).toBeUndefined()
  })
})

describe('with Redis', () => {
  test('memory -> breaker(Redis) -> SQLite, written through to Redis', async () => {
    const namespace = uniqueName('three')
    const c = make({ redisUrl: redis.url, fallbackDb: join(tmp.dir, 'three.db'), namespace })
    await c.ready()
    expect(c.getStats().tiers.map((t) => t.level)).toEqual(['l1_memory', 'l2_redis', 'l3_sql'])
    expect(c.breaker?.state).toBe('closed')
    await c.set('k', 'v')
    expect(await redisHas(redis, `tc:${namespace}:k`)).toBe(true)
    expect((await c.health()).status).toBe('ok')
    expect(c.describe()).toContain(`L2 redis 127.0.0.1:${redis.port}/0 behind a circuit breaker -> L3 sqlite`)
    expect(await c.registry!.metrics()).toContain('cache_breaker_state')
  })

  test('two instances: a write resolves once Redis took its message; the other drops its L1 copy', async () => {
    const namespace = uniqueName('pair')
    const config = {
      redisHost: '127.0.0.1',
      redisPort: redis.port,
      fallbackDb: join(tmp.dir, 'pair.db'),
      namespace,
    }
    const a = make(config)
    const b = make(config)
    await Promise.all([a.ready(), b.ready()])
    await waitFor(() => a.bus!.stats!().connected && b.bus!.stats!().connected, 5000, 'bus subscriptions')
    let received = 0
    b.on('bus', (e) => {
      if (e.direction === 'received') received++
    })
    await a.set('price', 1)
    await waitFor(() => received === 1, 2000, 'the first bus message') // else it could drop b's copy below
    expect(await b.get('price')).toBe(1)
    expect(b.peek('price')).toBe(1)
    const sent = a.bus!.stats().sent
    await a.set('price', 2)
    expect(a.bus!.stats().sent).toBe(sent + 1) // Redis took the message before set resolved
    await waitFor(() => b.peek('price') === undefined, 2000, 'bus invalidation')
    expect(await b.get('price')).toBe(2)
    await a.invalidateTags(['none'])
    await b.set('tagged', 'x', { tags: ['group'] })
    expect(await a.get('tagged')).toBe('x')
    await b.invalidateTags(['group'])
    await waitFor(async () => (await a.get('tagged')) === undefined, 2000, 'tag invalidation')
  })

  test('Redis down at start: starts anyway, breaker open, warning logged, uses Redis once it answers', async () => {
    const port = await freePort()
    const logger = memoryLogger()
    const namespace = uniqueName('late')
    const c = make({
      redisPort: port,
      fallbackDb: join(tmp.dir, 'late.db'),
      namespace,
      logger,
      breaker: { resetTimeout: '200ms' },
    })
    await c.ready()
    expect(c.breaker?.state).toBe('open')
    expect(logger.lines).toContainEqual({
      level: 'warn',
      msg: `tiercache: Redis at 127.0.0.1:${port}/0 is not answering; circuit open, serving from memory + SQL until it does`,
    })
    expect(await c.health()).toMatchObject({ status: 'degraded', mode: 'redis', breaker: 'open' })

    await c.set('k', 'v')
    expect(await c.get('k')).toBe('v')
    c.flushLocal()
    expect(await c.get('k')).toBe('v') // from SQLite

    const late = await startRedis({ port })
    try {
      await waitFor(
        async () => {
          await c.get('probe-traffic')
          return c.breaker?.state === 'closed'
        },
        10_000,
        'breaker to close',
      )
      expect(logger.lines.some((l) => l.level === 'info' && l.msg.includes('answers again'))).toBe(true)
      await c.set('k2', 'v2')
      expect(await redisHas(late, `tc:${namespace}:k2`)).toBe(true)
      expect((await c.health()).status).toBe('ok')
    } finally {
      await c.close()
      await late.stop()
    }
  })

  test('Redis killed mid-run: every call keeps answering from memory + SQLite', async () => {
    const server = await startRedis()
    const namespace = uniqueName('killed')
    const c = make({
      redisUrl: server.url,
      fallbackDb: join(tmp.dir, 'killed.db'),
      namespace,
      breaker: { resetTimeout: '1s', callTimeout: '100ms' },
    })
    try {
      await c.ready()
      for (let i = 0; i < 20; i++) await c.set(`k${i}`, i)
      await server.kill()
      for (let i = 0; i < 20; i++) {
        expect(await c.getOrSet(`k${i}`, () => -1)).toBe(i)
        expect(await c.getOrSet(`new${i}`, () => i * 10)).toBe(i * 10)
      }
      expect(c.breaker?.state).toBe('open')
      expect((await c.health()).status).toBe('degraded')
    } finally {
      await c.close()
      await server.stop()
    }
  })
})

describe('Redis TLS and ACL', () => {
  test('rediss:// with redisSslCaCerts verifies the server; redisSslCertReqs none skips the check', async () => {
    const server = await startRedis({ tls: true })
    try {
      const namespace = uniqueName('tls')
      const verified = make({
        redisUrl: server.url,
        redisSslCaCerts: server.certificates!.caFile,
        fallbackToDb: false,
        namespace,
      })
      await verified.ready()
      expect(verified.breaker?.state).toBe('closed')
      await verified.set('k', 'v')
      expect(await redisHas(server, `tc:${namespace}:k`)).toBe(true)
      expect(verified.describe()).toContain('(TLS)')

      const unchecked = make({
        redisUrl: server.url,
        redisSslCertReqs: 'none',
        fallbackToDb: false,
        namespace,
      })
      await unchecked.ready()
      expect(await unchecked.get('k')).toBe('v')

      const logger = memoryLogger()
      const refused = make({ redisUrl: server.url, fallbackToDb: false, namespace, logger })
      await refused.ready()
      expect(refused.breaker?.state).toBe('open') // the private CA is not trusted
      expect(logger.lines.some((l) => l.level === 'warn')).toBe(true)
      expect(await refused.get('k')).toBeUndefined()
    } finally {
      await Promise.all(open.splice(0).map((c) => c.close()))
      await server.stop()
    }
  })

  test('ACL user and password', async () => {
    const server = await startRedis({ acl: { username: 'app', password: 'pw-123' } })
    try {
      const namespace = uniqueName('acl')
      const c = make({
        redisPort: server.port,
        redisUsername: 'app',
        redisPassword: 'pw-123',
        redisDb: 3,
        fallbackToDb: false,
        namespace,
      })
      await c.ready()
      expect(c.breaker?.state).toBe('closed')
      await c.set('k', 'v')
      const [, exists] = await redisCommands(server.target, [
        ['SELECT', 3],
        ['EXISTS', `tc:${namespace}:k`],
      ])
      expect(exists).toBe(1)
      const wrong = make({
        redisPort: server.port,
        redisUsername: 'app',
        redisPassword: 'nope',
        fallbackToDb: false,
      })
      await wrong.ready()
      expect(wrong.breaker?.state).toBe('open')
    } finally {
      await Promise.all(open.splice(0).map((c) => c.close()))
      await server.stop()
    }
  })
})

test('waitForBus: false resolves writes without waiting for the bus', async () => {
  const namespace = uniqueName('nowait')
  const c = make({ redisUrl: redis.url, fallbackToDb: false, namespace, waitForBus: false })
  await c.ready()
  const sent = c.bus!.stats().sent
  await c.set('k', 1)
  expect(c.bus!.stats().sent).toBe(sent) // the publish is still in flight
  await waitFor(() => c.bus!.stats().sent === sent + 1, 2000, 'the publish')
  expect(() => make({ waitForBus: 'yes' as never })).toThrow(/waitForBus/)
})
