import { EventEmitter } from 'node:events'
import KeyvRedis from '@keyv/redis'
import { isTierCacheError } from '@tiercache/core'
import { NEVER, type RemoteEntry } from '@tiercache/core/store'
import { ManualClock } from '@tiercache/core/testing'
import { caught } from '@tiercache/test-kit'
import Keyv from 'keyv'
import { afterAll, describe, expect, test } from 'vitest'
import { type KeyvAdapterLike, keyvStore } from '../src/index.js'
import { dropRedisNamespaces, REDIS_URL, redisAdapter, redisNamespace, unlistableAdapter } from './helpers.js'

afterAll(dropRedisNamespaces)

function entry(value: string, meta: Partial<Omit<RemoteEntry, 'value'>> = {}, now = Date.now()): RemoteEntry {
  return {
    value: Buffer.from(value),
    createdAt: meta.createdAt ?? now,
    freshUntil: meta.freshUntil ?? now + 60_000,
    staleUntil: meta.staleUntil ?? now + 120_000,
    tags: meta.tags ?? [],
  }
}

const text = (e: RemoteEntry | undefined): string | undefined =>
  e === undefined ? undefined : Buffer.from(e.value).toString()

describe('options', () => {
  test('refuses what is not a Keyv instance or adapter, and bad options, with E_INVALID_OPTION', () => {
    const bad: [unknown, object][] = [
      [undefined, {}],
      [{ get() {} }, {}],
      [new Map(), { name: '' }],
      [new Map(), { prefix: 1 }],
      [new Map(), { owned: 'yes' }],
      [new Map(), { maxEntryBytes: 0 }],
      [new Map(), { clearMode: 'fast' }],
      [new Map(), { clock: {} }],
      [new Map(), { maxTtl: -1 }],
      [new Map(), { closeTimeout: 'soon' }],
      [unlistableAdapter(true), { clearMode: 'scan' }],
    ]
    for (const [input, options] of bad) {
      let error: unknown
      try {
        keyvStore(input as never, options as never)
      } catch (e) {
        error = e
      }
      const code =
        'maxTtl' in options || 'closeTimeout' in options ? 'E_INVALID_DURATION' : 'E_INVALID_OPTION'
      expect(isTierCacheError(error, code), JSON.stringify(options)).toBe(true)
    }
  })

  test('defaults: name keyv, prefix tc:, scan when the adapter can list keys', () => {
    const store = keyvStore(new Map())
    expect(store.name).toBe('keyv')
    expect(store.kind).toBe('remote')
    expect(store.prefix).toBe('tc:')
    expect(store.clearMode).toBe('scan')
    expect(store.maxEntryBytes).toBeUndefined()
    expect(store.maxTtl).toBeUndefined()
    expect(keyvStore(unlistableAdapter(false)).clearMode).toBe('generations')
    expect(keyvStore(redisAdapter()).clearMode).toBe('scan')
    const named = keyvStore(new Map(), { name: 'sessions', maxTtl: '1h', maxEntryBytes: 1024 })
    expect([named.name, named.maxTtl, named.maxEntryBytes]).toEqual(['sessions', 3_600_000, 1024])
  })

  test('declares only what the adapter has', () => {
    expect(keyvStore(unlistableAdapter(false)).capabilities).toEqual({
      getMany: false,
      setMany: false,
      deleteMany: false,
      deleteByPattern: false,
      close: true,
    })
    expect(keyvStore(redisAdapter()).capabilities).toEqual({
      getMany: true,
      setMany: true,
      deleteMany: true,
      deleteByPattern: true,
      close: true,
    })
    expect(keyvStore(redisAdapter(), { clearMode: 'generations' }).capabilities.deleteByPattern).toBe(false)
  })
})

describe('keys and namespaces', () => {
  test('stores sharing an adapter stay apart by prefix', async () => {
    const map = new Map()
    const a = keyvStore(map, { prefix: 'a:' })
    const b = keyvStore(map, { prefix: 'b:' })
    await a.set('app:1', entry('from a'))
    await b.set('app:1', entry('from b'))
    expect([...map.keys()].sort()).toEqual(['a:app:1', 'b:app:1'])
    await a.clear('')
    expect(await a.get('app:1')).toBeUndefined()
    expect(text(await b.get('app:1'))).toBe('from b')
    expect(await a.deleteByPattern('*')).toBe(0)
    expect(text(await b.get('app:1'))).toBe('from b')
  })

  test("clear('') with an empty prefix deletes only values the store wrote", async () => {
    const keyv = new Keyv()
    await keyv.set('greeting', 'hello')
    const store = keyvStore(keyv, { prefix: '' })
    await store.set('app:1', entry('one'))
    await store.clear('')
    expect(await store.get('app:1')).toBeUndefined()
    expect(await keyv.get('greeting')).toBe('hello')
  })

  test('entries are kept in Keyv’s serialized shape, with expires for adapters that use it', async () => {
    const map = new Map<string, string>()
    const store = keyvStore(map)
    const now = Date.now()
    await store.set('app:ttl', entry('a', { staleUntil: now + 5000 }, now))
    await store.set('app:forever', entry('b', { staleUntil: NEVER }, now))
    const withTtl = JSON.parse(map.get('tc:app:ttl')!)
    expect(withTtl.expires).toBe(now + 5000)
    expect(withTtl.value).toMatch(/^tc1:[A-Za-z0-9+/=]+$/)
    expect(JSON.parse(map.get('tc:app:forever')!)).not.toHaveProperty('expires')
    // A Keyv instance on the same adapter reads the entry as an opaque string.
    const keyv = new Keyv({ store: map, namespace: '' })
    expect(await keyv.get('tc:app:ttl')).toBe(withTtl.value)
  })

  test('keys containing "::" are cleared in a namespaced @keyv/redis adapter', async () => {
    const store = keyvStore(redisAdapter(), { owned: true })
    try {
      await store.set('app:a::b', entry('x'))
      await store.set('app::c', entry('y'))
      await store.set('app2:a::b', entry('z'))
      await store.clear('app')
      expect(await store.get('app:a::b')).toBeUndefined()
      expect(await store.get('app::c')).toBeUndefined()
      expect(text(await store.get('app2:a::b'))).toBe('z')
    } finally {
      await store.close()
    }
  })

  test('scans ignore values of other shapes in the same adapter namespace', async () => {
    const adapter = redisAdapter()
    const keyv = new Keyv({ store: adapter, namespace: adapter.namespace!, useKeyPrefix: false })
    const store = keyvStore(adapter, { owned: true, prefix: '' })
    try {
      await keyv.set('plain', { a: 1 })
      await keyv.set('raw', 'tc1:not ours')
      await store.set('app:1', entry('ours'))
      await store.clear('')
      expect(await store.get('app:1')).toBeUndefined()
      expect(await keyv.get('plain')).toEqual({ a: 1 })
      expect(await keyv.get('raw')).toBe('tc1:not ours')
    } finally {
      await store.close()
    }
  })
})

describe('expiry and TTLs', () => {
  test('passes staleUntil - now to the adapter as its TTL, none for NEVER', async () => {
    const clock = new ManualClock()
    const sets: [string, number | undefined][] = []
    const map = new Map<string, string>()
    const adapter: KeyvAdapterLike = {
      get: (k) => map.get(k),
      set: (k, v, ttl) => {
        sets.push([k, ttl])
        map.set(k, v)
      },
      delete: (k) => map.delete(k),
      clear: () => map.clear(),
    }
    const store = keyvStore(adapter, { clock, prefix: '' })
    const now = clock.now()
    await store.set('a', entry('a', { staleUntil: now + 1500 }, now))
    await store.set('b', entry('b', { staleUntil: NEVER }, now))
    expect(sets).toEqual([
      ['e:a', 1500],
      ['e:b', undefined],
    ])
  })

  test('an entry written already expired deletes the key instead', async () => {
    const clock = new ManualClock()
    const map = new Map<string, string>()
    const store = keyvStore(map, { clock })
    await store.set('app:k', entry('old', {}, clock.now()))
    await store.set('app:k', entry('new', { staleUntil: clock.now() }, clock.now()))
    expect(map.has('tc:app:k')).toBe(false)
  })

  test('an adapter that keeps expired values never returns them, and loses them on read', async () => {
    const clock = new ManualClock()
    const map = new Map<string, string>()
    const store = keyvStore(map, { clock })
    const now = clock.now()
    await store.set('app:k', entry('v', { freshUntil: now + 500, staleUntil: now + 1000 }, now))
    await clock.advance(999)
    expect(text(await store.get('app:k'))).toBe('v')
    await clock.advance(1)
    expect(map.has('tc:app:k')).toBe(true)
    expect(await store.get('app:k')).toBeUndefined()
    expect(await store.getMany(['app:k'])).toEqual([undefined])
    expect(map.has('tc:app:k')).toBe(false)
  })

  test('a value under a key that another key wrote reads as missing; garbage is E_DESERIALIZE', async () => {
    const map = new Map<string, string>()
    const store = keyvStore(map)
    await store.set('app:a', entry('a'))
    map.set('tc:app:b', map.get('tc:app:a')!)
    expect(await store.get('app:b')).toBeUndefined()
    map.set('tc:app:c', 'not an entry')
    const error = await caught(() => store.get('app:c'))
    expect(isTierCacheError(error, 'E_DESERIALIZE')).toBe(true)
    expect(error).toMatchObject({ store: 'keyv', operation: 'get', key: 'app:c' })
  })
})

describe('generations mode', () => {
  test('clear is one write; cleared entries read as missing and are dropped when read', async () => {
    const adapter = unlistableAdapter(true)
    const store = keyvStore(adapter)
    await store.setMany([
      ['app:users:1', entry('u1')],
      ['app:posts:1', entry('p1')],
      ['app2:users:1', entry('other')],
    ])
    const writes = adapter.calls.set ?? 0
    await store.clear('app:users')
    expect(adapter.calls.set).toBe(writes + 1)
    expect(adapter.map.size).toBe(4)
    expect(
      await store.getMany(['app:users:1', 'app:posts:1', 'app2:users:1']).then((r) => r.map(text)),
    ).toEqual([undefined, 'p1', 'other'])
    expect(adapter.map.has('tc:e:app:users:1')).toBe(false)
    await store.set('app:users:1', entry('again'))
    expect(text(await store.get('app:users:1'))).toBe('again')
    await store.clear('')
    expect(await store.getMany(['app:users:1', 'app:posts:1', 'app2:users:1'])).toEqual([
      undefined,
      undefined,
      undefined,
    ])
  })

  test('a read fetches the key and its parent namespaces’ markers in one getMany', async () => {
    const adapter = unlistableAdapter(true)
    const store = keyvStore(adapter)
    await store.set('app:users:1', entry('u1'))
    adapter.calls.getMany = 0
    adapter.calls.get = 0
    await store.get('app:users:1')
    expect([adapter.calls.getMany, adapter.calls.get]).toEqual([1, 0])
  })

  test('deleteByPattern is refused', async () => {
    const store = keyvStore(unlistableAdapter(true))
    const error = await caught(() => store.deleteByPattern('app:*'))
    expect(isTierCacheError(error, 'E_STORE')).toBe(true)
  })
})

describe('errors', () => {
  test('an adapter that rejects fails with StoreError naming the store, operation, key and cause', async () => {
    const cause = new Error('backend down')
    const adapter: KeyvAdapterLike = {
      get: async () => {
        throw cause
      },
      set: async () => {
        throw cause
      },
      delete: async () => {
        throw cause
      },
      clear: async () => {},
      entries: () => [],
      [Symbol.iterator]: () => [][Symbol.iterator](),
    } as KeyvAdapterLike
    const store = keyvStore(adapter, { name: 'shared' })
    for (const op of [
      () => store.get('app:k'),
      () => store.set('app:k', entry('v')),
      () => store.delete('app:k'),
    ]) {
      const error = await caught(op)
      expect(isTierCacheError(error, 'E_STORE')).toBe(true)
      expect(error).toMatchObject({ store: 'shared', key: 'app:k', cause })
    }
    expect(await caught(() => store.get('app:k'))).toMatchObject({ operation: 'get' })
  })

  test('an error reported only as an event fails the operation in flight, and never crashes', async () => {
    // An EventEmitter throws on an 'error' event nobody listens to; the store listens.
    class SwallowingAdapter extends EventEmitter {
      readonly map = new Map<string, string>()
      broken = false
      async get(key: string) {
        if (this.broken) {
          this.emit('error', new Error('read failed'))
          return undefined
        }
        return this.map.get(key)
      }
      async set(key: string, value: string) {
        if (this.broken) this.emit('error', new Error('write failed'))
        else this.map.set(key, value)
      }
      async delete(key: string) {
        return this.map.delete(key)
      }
      async clear() {}
    }
    const adapter = new SwallowingAdapter()
    const store = keyvStore(adapter)
    await store.set('app:k', entry('v'))
    adapter.broken = true
    const read = await caught(() => store.get('app:k'))
    expect(read).toMatchObject({ code: 'E_STORE', operation: 'get', key: 'app:k' })
    expect((read as Error).cause).toEqual(new Error('read failed'))
    expect(await caught(() => store.set('app:k', entry('w')))).toMatchObject({ operation: 'set' })
    // Outside any operation, an event is absorbed.
    expect(() => adapter.emit('error', new Error('background'))).not.toThrow()
    adapter.broken = false
    expect(text(await store.get('app:k'))).toBe('v')
    await store.close()
    expect(adapter.listenerCount('error')).toBe(0)
  })

  test('@keyv/redis: a failed command (reported as an event and a miss) surfaces as StoreError', async () => {
    const namespace = redisNamespace()
    const adapter = new KeyvRedis(REDIS_URL, { namespace })
    const store = keyvStore(adapter, { owned: true })
    const client = await adapter.getClient()
    const hashKey = `${namespace}::tc:app:hash`
    try {
      await client.hSet(hashKey, 'field', 'value')
      const error = await caught(() => store.get('app:hash'))
      expect(error).toMatchObject({ code: 'E_STORE', store: 'keyv', operation: 'get', key: 'app:hash' })
      expect(String((error as Error).cause)).toContain('WRONGTYPE')
    } finally {
      await client.del(hashKey)
      await store.close()
    }
  })

  test('@keyv/redis: an unreachable server fails operations at once instead of hanging', async () => {
    const adapter = new KeyvRedis('redis://127.0.0.1:1')
    const store = keyvStore(adapter)
    const error = await caught(() => store.set('app:k', entry('v')))
    expect(error).toMatchObject({ code: 'E_STORE', operation: 'set' })
    expect(String((error as Error).cause)).toContain('ECONNREFUSED')
    await store.close()
    // A graceful disconnect would wait for the queued command; this test owns the adapter.
    await adapter.disconnect(true)
  })
})

describe('ownership', () => {
  function disconnectable() {
    const adapter = Object.assign(new Map<string, string>(), {
      disconnects: 0,
      async disconnect() {
        adapter.disconnects++
      },
    })
    return adapter
  }

  test('a handed adapter stays open; an owned one is disconnected once', async () => {
    const handed = disconnectable()
    await keyvStore(handed).close()
    expect(handed.disconnects).toBe(0)
    const owned = disconnectable()
    const store = keyvStore(owned, { owned: true })
    await store.close()
    await store.close()
    expect(owned.disconnects).toBe(1)
  })

  test('an owned Keyv instance is disconnected through Keyv', async () => {
    const adapter = disconnectable()
    const keyv = new Keyv({ store: adapter })
    let disconnects = 0
    keyv.on('disconnect', () => disconnects++)
    await keyvStore(keyv, { owned: true }).close()
    expect([disconnects, adapter.disconnects]).toEqual([1, 1])
  })

  test('close() fails operations still waiting on the adapter', async () => {
    const never = new Promise<never>(() => {})
    const adapter: KeyvAdapterLike = {
      get: () => never,
      set: () => never,
      delete: () => never,
      clear: () => never,
    }
    const store = keyvStore(adapter)
    const pending = caught(() => store.get('app:k'))
    await store.close()
    expect(isTierCacheError(await pending, 'E_CLOSED')).toBe(true)
  })

  test('an owned adapter that does not disconnect in time fails close() with E_STORE_TIMEOUT', async () => {
    const adapter = Object.assign(new Map<string, string>(), {
      disconnect: () => new Promise<never>(() => {}),
    })
    const store = keyvStore(adapter, { owned: true, closeTimeout: 20 })
    const error = await caught(() => store.close())
    expect(error).toMatchObject({ code: 'E_STORE_TIMEOUT', operation: 'close', store: 'keyv', timeout: 20 })
  })

  test('a closed store refuses work with E_CLOSED, and a handed client keeps working', async () => {
    const adapter = redisAdapter()
    const store = keyvStore(adapter)
    await store.set('app:k', entry('v'))
    await store.close()
    expect(isTierCacheError(await caught(() => store.get('app:k')), 'E_CLOSED')).toBe(true)
    expect(await adapter.has('tc:app:k')).toBe(true)
    await adapter.disconnect()
  })
})
