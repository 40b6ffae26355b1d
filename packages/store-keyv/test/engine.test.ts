import KeyvRedis from '@keyv/redis'
import { type Cache, createCache, isTierCacheError } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { uniqueName } from '@tiercache/test-kit'
import Keyv from 'keyv'
import { afterAll, afterEach, describe, expect, test } from 'vitest'
import { type KeyvClearMode, keyvStore } from '../src/index.js'
import { dropRedisNamespaces, redisAdapter } from './helpers.js'

afterAll(dropRedisNamespaces)

const open: Cache[] = []
const adapters: KeyvRedis<unknown>[] = []
const forced: KeyvRedis<unknown>[] = []
afterEach(async () => {
  for (const cache of open.splice(0)) await cache.close()
  // The caches were handed the adapters, so they left them open.
  for (const adapter of adapters.splice(0)) await adapter.disconnect()
  // A graceful disconnect from an unreachable server waits for its queued commands forever.
  for (const adapter of forced.splice(0)) await adapter.disconnect(true)
})

/** Two instances (own L1 each) sharing one Redis tier through @keyv/redis. */
function pair(clearMode: KeyvClearMode) {
  const namespace = uniqueName('app')
  const adapter = redisAdapter()
  const make = () =>
    createCache({
      namespace,
      tiers: [memoryStore({ maxBytes: 1 << 20 }), keyvStore(adapter, { clearMode })],
      ttl: '1m',
      strict: true,
    })
  const a = make()
  const b = make()
  open.push(a, b)
  adapters.push(adapter)
  return { a, b }
}

describe.each(['scan', 'generations'] as const)('as the L2 of the engine (%s mode)', (clearMode) => {
  test('writes reach the shared tier; another instance reads and backfills them', async () => {
    const { a, b } = pair(clearMode)
    await a.set('user:1', { name: 'Ada', born: new Date(1815, 11, 10) }, { tags: ['user:1'] })
    expect(await b.get('user:1')).toEqual({ name: 'Ada', born: new Date(1815, 11, 10) })
    expect(b.getStats().tiers[1]).toMatchObject({ level: 'l2_keyv', hits: 1 })
    expect(await b.get('user:1')).toEqual({ name: 'Ada', born: new Date(1815, 11, 10) })
    expect(b.getStats().tiers[0]?.hits).toBe(1)
    expect(await b.getMany(['user:1', 'user:2'])).toEqual([
      { name: 'Ada', born: new Date(1815, 11, 10) },
      undefined,
    ])
  })

  test('clear() empties the namespace in the shared tier, and only it', async () => {
    const { a, b } = pair(clearMode)
    await a.set('k', 1)
    await a.namespace('users').set('1', 'one')
    await a.namespace('users2').set('1', 'two')
    await a.namespace('users').clear()
    expect(await b.namespace('users').get('1')).toBeUndefined()
    expect(await b.namespace('users2').get('1')).toBe('two')
    await a.clear()
    // Without a bus, b's own L1 still holds what it read: drop it to see the shared tier.
    b.flushLocal()
    expect(await b.get('k')).toBeUndefined()
    expect(await b.namespace('users2').get('1')).toBeUndefined()
  })

  test('getOrSet loads once and the value is shared', async () => {
    const { a, b } = pair(clearMode)
    let loads = 0
    const load = async () => ++loads
    expect(await a.getOrSet('n', load)).toBe(1)
    expect(await b.getOrSet('n', load)).toBe(1)
    expect(loads).toBe(1)
    await a.delete('n')
    b.flushLocal()
    expect(await b.has('n')).toBe(false)
  })
})

describe('pattern deletes through the tier', () => {
  test('scan mode supports cache.deleteByPattern', async () => {
    const { a, b } = pair('scan')
    await a.setMany([
      { key: 'user:1', value: 1 },
      { key: 'user:2', value: 2 },
      { key: 'post:1', value: 3 },
    ])
    expect(await a.deleteByPattern('user:*')).toBe(2)
    expect(await b.getMany(['user:1', 'user:2', 'post:1'])).toEqual([undefined, undefined, 3])
  })

  test('generations mode does not declare it, so the engine refuses pattern deletes', async () => {
    const { a } = pair('generations')
    let error: unknown
    try {
      await a.deleteByPattern('user:*')
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error)).toBe(true)
  })
})

test("Keyv's in-memory Map works as a tier too, as a local one", async () => {
  const l1 = memoryStore()
  const l2 = keyvStore(new Keyv())
  expect(l2.scope).toBe('local')
  const cache = createCache({ namespace: 'app', tiers: [l1, l2] })
  open.push(cache)
  await cache.set('k', [1, 2, 3])
  cache.flushLocal()
  expect(l1.get('k')).toBeUndefined()
  expect(await cache.get('k')).toEqual([1, 2, 3])
})

test('a failing Keyv tier is reported as a StoreError and the cache carries on', async () => {
  const errors: unknown[] = []
  const unreachable = new KeyvRedis('redis://127.0.0.1:1')
  const cache = createCache({ namespace: 'app', tiers: [memoryStore(), keyvStore(unreachable)] })
  open.push(cache)
  forced.push(unreachable)
  cache.on('error', (event) => errors.push(event.error))
  await cache.set('k', 'v')
  expect(await cache.get('k')).toBe('v')
  expect(errors.length).toBeGreaterThan(0)
  expect(errors[0]).toMatchObject({ code: 'E_STORE', store: 'keyv', operation: 'set' })
})
