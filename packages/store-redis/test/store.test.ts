import { defaultSerializer, isTierCacheError } from '@tiercache/core'
import { encodeEntry, NEVER, type RemoteEntry } from '@tiercache/core/store'
import { ManualClock } from '@tiercache/core/testing'
import { uniquePrefix } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { escapeRedisGlob, tokensToRedisGlob } from '../src/glob.js'
import { DEFAULT_PREFIX, type RedisStoreOptions, redisStore } from '../src/index.js'
import { FORBIDDEN_COMMANDS } from './helpers.js'

let server: RedisServer
let raw: Redis

beforeAll(async () => {
  server = await startRedis({ args: FORBIDDEN_COMMANDS })
  raw = new Redis(server.url)
})
afterAll(async () => {
  raw?.disconnect()
  await server?.stop()
})

const entry = (
  value: unknown,
  meta: Partial<Omit<RemoteEntry, 'value'>> = {},
  now = Date.now(),
): RemoteEntry => ({
  value: defaultSerializer.serialize(value),
  createdAt: meta.createdAt ?? now,
  freshUntil: meta.freshUntil ?? now + 60_000,
  staleUntil: meta.staleUntil ?? now + 120_000,
  tags: meta.tags ?? [],
})

const decode = (e: RemoteEntry | undefined): unknown =>
  e ? defaultSerializer.deserialize(e.value) : undefined

describe('options', () => {
  const bad: [string, RedisStoreOptions][] = [
    ['url with another protocol', { url: 'http://127.0.0.1:6379' }],
    ['url that is not a URL', { url: 'not a url' }],
    ['url with a non-numeric db', { url: 'redis://127.0.0.1:6379/abc' }],
    ['url and cluster together', { url: 'redis://x', cluster: { nodes: ['127.0.0.1:1'] } }],
    ['client plus tls', { client: {} as never, tls: true }],
    ['a client that is not a client', { client: { get: () => 1 } as never }],
    ['negative commandTimeout', { commandTimeout: -1 }],
    ['zero commandTimeout', { commandTimeout: 0 }],
    ['malformed commandTimeout', { commandTimeout: '1 second' as never }],
    ['db on a Cluster', { cluster: { nodes: ['127.0.0.1:1'] }, db: 1 }],
    ['negative db', { db: -1 }],
    ['empty cluster nodes', { cluster: { nodes: [] } }],
    ['non-string prefix', { prefix: 5 as never }],
    ['zero maxEntryBytes', { maxEntryBytes: 0 }],
    ['fractional batchSize', { batchSize: 1.5 }],
    ['empty name', { name: '' }],
    ['non-boolean owned', { owned: 'yes' as never }],
    ['negative maxRetriesPerRequest', { maxRetriesPerRequest: -1 }],
  ]
  test.each(bad)('rejects %s with E_INVALID_OPTION', (_label, options) => {
    let error: unknown
    try {
      redisStore({ ...options, redisOptions: { lazyConnect: true, ...options.redisOptions } })
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_INVALID_OPTION') || isTierCacheError(error, 'E_INVALID_DURATION')).toBe(
      true,
    )
  })

  test('defaults: prefix tc:, offline queue off, auto-pipelining on, 1 s command timeout', async () => {
    const store = redisStore({ url: server.url })
    try {
      expect(DEFAULT_PREFIX).toBe('tc:')
      expect(store.prefix).toBe('tc:')
      expect(store.name).toBe('redis')
      expect(store.kind).toBe('remote')
      const options = (store.client as Redis).options
      expect(options.enableOfflineQueue).toBe(false)
      expect(options.enableAutoPipelining).toBe(true)
      expect(options.commandTimeout).toBe(1000)
      expect(options.maxRetriesPerRequest).toBe(1)
    } finally {
      await store.close()
    }
  })

  test('named options override the URL; duration strings are accepted', async () => {
    const store = redisStore({ url: `${server.url}/3`, db: 4, commandTimeout: '2s', connectTimeout: '3s' })
    try {
      const options = (store.client as Redis).options
      expect(options.db).toBe(4)
      expect(options.commandTimeout).toBe(2000)
      expect(options.connectTimeout).toBe(3000)
    } finally {
      await store.close()
    }
  })
})

describe('keys, values and expiry in Redis', () => {
  test('an entry lives under <prefix><key> as one encodeEntry blob with PX from staleUntil', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix })
    try {
      const e = entry({ a: 1 }, { staleUntil: Date.now() + 30_000, tags: ['t1'] })
      await store.set('app:users:1', e)
      const blob = await raw.getBuffer(`${prefix}app:users:1`)
      expect(blob?.equals(encodeEntry(e))).toBe(true)
      const pttl = await raw.pttl(`${prefix}app:users:1`)
      expect(pttl).toBeGreaterThan(28_000)
      expect(pttl).toBeLessThanOrEqual(30_000)
    } finally {
      await store.close()
    }
  })

  test('staleUntil = NEVER stores without expiry; an already expired entry deletes the key', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix })
    try {
      await store.set('ns:forever', entry(1, { staleUntil: NEVER, freshUntil: NEVER }))
      expect(await raw.pttl(`${prefix}ns:forever`)).toBe(-1)
      await store.set('ns:forever', entry(2, { staleUntil: Date.now() - 1 }))
      expect(await raw.exists(`${prefix}ns:forever`)).toBe(0)
    } finally {
      await store.close()
    }
  })

  test('an injected clock drives PX and the expiry check on reads', async () => {
    const clock = new ManualClock()
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix, clock })
    try {
      const now = clock.now()
      await store.set('ns:k', entry('v', { staleUntil: now + 10_000 }, now))
      const pttl = await raw.pttl(`${prefix}ns:k`)
      expect(pttl).toBeGreaterThan(9_000)
      expect(decode(await store.get('ns:k'))).toBe('v')
      await clock.advance(10_000)
      expect(await store.get('ns:k')).toBeUndefined()
      expect(await store.getMany(['ns:k'])).toEqual([undefined])
    } finally {
      await store.close()
    }
  })

  test('setMany writes expiring, forever and already expired entries in one pipeline', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix })
    try {
      await raw.set(`${prefix}ns:gone`, 'x')
      await store.setMany([
        ['ns:a', entry('a', { staleUntil: Date.now() + 5_000 })],
        ['ns:b', entry('b', { staleUntil: NEVER })],
        ['ns:gone', entry('c', { staleUntil: Date.now() - 5 })],
      ])
      expect(await raw.pttl(`${prefix}ns:a`)).toBeGreaterThan(4_000)
      expect(await raw.pttl(`${prefix}ns:b`)).toBe(-1)
      expect(await raw.exists(`${prefix}ns:gone`)).toBe(0)
    } finally {
      await store.close()
    }
  })

  test('setMany refuses the whole batch when one entry is above maxEntryBytes', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix, maxEntryBytes: 100 })
    try {
      const big: RemoteEntry = { ...entry(0), value: Buffer.alloc(101) }
      await expect(
        store.setMany([
          ['ns:small', entry(1)],
          ['ns:big', big],
        ]),
      ).rejects.toSatisfy((e) => isTierCacheError(e, 'E_VALUE_TOO_LARGE'))
      expect(await store.has('ns:small')).toBe(false)
    } finally {
      await store.close()
    }
  })

  test('batches larger than batchSize are split', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix(), batchSize: 100 })
    try {
      const keys = Array.from({ length: 1050 }, (_, i) => `ns:${i}`)
      await store.setMany(keys.map((k, i) => [k, entry(i)] as const))
      const got = await store.getMany(keys)
      expect(got.map(decode)).toEqual(keys.map((_, i) => i))
      expect(await store.deleteByPattern('ns:1*')).toBe(1 + 10 + 100 + 50)
      expect(await store.deleteMany(keys)).toBe(1050 - 161)
    } finally {
      await store.close()
    }
  })

  test('bytes that are not an entry: get throws E_DESERIALIZE, getMany reads undefined', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix })
    try {
      await raw.set(`${prefix}ns:junk`, 'not an entry')
      await store.set('ns:ok', entry('ok'))
      await expect(store.get('ns:junk')).rejects.toSatisfy((e) => isTierCacheError(e, 'E_DESERIALIZE'))
      const [junk, ok] = await store.getMany(['ns:junk', 'ns:ok'])
      expect(junk).toBeUndefined()
      expect(decode(ok)).toBe('ok')
    } finally {
      await store.close()
    }
  })
})

describe('read batching', () => {
  test('gets issued in the same tick share one MGET; each caller gets its own answer', async () => {
    const prefix = uniquePrefix()
    const store = redisStore({ url: server.url, prefix })
    try {
      const keys = Array.from({ length: 50 }, (_, i) => `ns:${i}`)
      await store.setMany(keys.filter((_, i) => i % 2 === 0).map((k) => [k, entry(k)] as const))
      await raw.set(`${prefix}ns:1`, 'junk')
      await server.command('CONFIG', 'RESETSTAT')
      const results = await Promise.allSettled(keys.map((k) => store.get(k)))
      const stats = String(await server.command('INFO', 'commandstats'))
      expect(stats).toMatch(/cmdstat_mget:calls=1,/)
      expect(stats).not.toMatch(/cmdstat_get:/)
      for (const [i, r] of results.entries()) {
        if (i === 1) {
          expect(r.status).toBe('rejected')
          expect(isTierCacheError((r as PromiseRejectedResult).reason, 'E_DESERIALIZE')).toBe(true)
        } else if (i % 2 === 0) expect(decode((r as PromiseFulfilledResult<RemoteEntry>).value)).toBe(keys[i])
        else expect((r as PromiseFulfilledResult<RemoteEntry | undefined>).value).toBeUndefined()
      }
      // A lone get is a plain GET.
      await server.command('CONFIG', 'RESETSTAT')
      expect(decode(await store.get('ns:0'))).toBe('ns:0')
      expect(String(await server.command('INFO', 'commandstats'))).toMatch(/cmdstat_get:calls=1,/)
    } finally {
      await store.close()
    }
  })
})

describe('patterns and prefixes', () => {
  test('patterns translate to an escaped Redis glob (? widened to *, filtered exactly afterwards)', () => {
    expect(escapeRedisGlob('a*b?c[d]e\\f^g')).toBe('a\\*b\\?c\\[d\\]e\\\\f\\^g')
    expect(tokensToRedisGlob([{ type: 'literal', value: 'u[1]:' }, { type: 'star' }])).toBe('u\\[1\\]:*')
    expect(tokensToRedisGlob([{ type: 'literal', value: 'a' }, { type: 'any' }])).toBe('a*')
  })

  test('a prefix full of glob characters matches only itself', async () => {
    const odd = `${uniquePrefix()}[a-z]*?^\\:`
    const plain = odd.replace(/[[\]*?^\\]/g, 'x')
    const a = redisStore({ url: server.url, prefix: odd })
    const b = redisStore({ url: server.url, prefix: plain })
    const c = redisStore({ url: server.url, prefix: `${odd}more:` })
    try {
      await a.set('ns:1', entry(1))
      await b.set('ns:1', entry(2))
      await c.set('ns:1', entry(3))
      expect(await a.deleteByPattern('ns:*')).toBe(1)
      await a.set('ns:1', entry(1))
      await a.clear('')
      expect(await a.has('ns:1')).toBe(false)
      expect(await b.has('ns:1')).toBe(true)
      // A longer prefix that starts with this one holds keys under it: clear('') takes them too,
      // which is why every application needs its own prefix.
      expect(await c.has('ns:1')).toBe(false)
    } finally {
      await Promise.all([a.close(), b.close(), c.close()])
    }
  })

  test('? matches one character, even a multi-byte one', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix() })
    try {
      for (const k of ['ns:ü', 'ns:🌍', 'ns:ab', 'ns:a']) await store.set(k, entry(k))
      expect(await store.deleteByPattern('ns:?')).toBe(3)
      expect(await store.has('ns:ab')).toBe(true)
    } finally {
      await store.close()
    }
  })

  test('a malformed pattern throws E_INVALID_PATTERN', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix() })
    try {
      await expect(store.deleteByPattern('ns:\\')).rejects.toSatisfy((e) =>
        isTierCacheError(e, 'E_INVALID_PATTERN'),
      )
    } finally {
      await store.close()
    }
  })
})

describe('clients and stats', () => {
  test('a client passed in is used as is and never closed unless owned: true', async () => {
    const client = new Redis(server.url)
    const store = redisStore({ client, prefix: uniquePrefix() })
    await store.set('ns:k', entry(1))
    expect(decode(await store.get('ns:k'))).toBe(1)
    await store.close()
    await store.close()
    expect(client.status).toBe('ready')
    expect(await client.ping()).toBe('PONG')

    const owned = redisStore({ client, owned: true, prefix: uniquePrefix() })
    await owned.close()
    expect(client.status).toBe('end')
  })

  test('stats report connected, used_memory and errors', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix() })
    try {
      await store.set('ns:k', entry(1))
      const stats = await store.stats()
      expect(stats.connected).toBe(true)
      expect(stats.usedMemory).toBeGreaterThan(100_000)
      expect(stats.errors).toBe(0)
      await raw.set(`${store.prefix}ns:list`, 'x')
      await raw.del(`${store.prefix}ns:list`)
      await raw.rpush(`${store.prefix}ns:list`, 'x')
      await expect(store.get('ns:list')).rejects.toSatisfy(
        (e) => isTierCacheError(e, 'E_STORE') && /WRONGTYPE/.test((e as Error).message),
      )
      expect((await store.stats()).errors).toBe(1)
    } finally {
      await store.close()
    }
  })

  test('errors carry the store name, operation, key and cause', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix(), name: 'sessions' })
    try {
      await raw.rpush(`${store.prefix}ns:list`, 'x')
      const error = await store.get('ns:list').catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'E_STORE', store: 'sessions', operation: 'get', key: 'ns:list' })
      expect((error as Error).cause).toBeInstanceOf(Error)
    } finally {
      await store.close()
    }
  })
})
