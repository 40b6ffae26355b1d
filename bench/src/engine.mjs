// Issue: L1-hit get and getOrSet through the engine vs raw lru-cache and peer libraries
// (BentoCache, cache-manager, cacheable), idiomatic and with serialization skipped.
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Cacheable, createKeyv } from 'cacheable'
import { Keyv } from 'keyv'
import { LRUCache } from 'lru-cache'
import { measure, report, save, target } from './lib.mjs'

const N = 512
const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
const value = (i) => ({ id: i, name: `user ${i}`, roles: ['a', 'b'], active: true })

// Bounded by bytes like the L1 below: two lru-cache modes in one process would slow both.
const lru = new LRUCache({ maxSize: 64 * 2 ** 20, sizeCalculation: () => 64 })
const tc = createCache({ tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 })], ttl: '1h' })
// A second L1 policy in the same process makes the engine's L1 call site polymorphic and slows
// every tiercache contender, so the 'tinylfu' comparison runs only when asked for
// (ENGINE_POLICY=tinylfu), in a process of its own.
const comparePolicy = process.env.ENGINE_POLICY === 'tinylfu'
const tcTiny = comparePolicy
  ? createCache({ tiers: [memoryStore({ policy: 'tinylfu', maxBytes: 64 * 2 ** 20 })], ttl: '1h' })
  : undefined
const bentoDefault = new BentoCache({
  default: 'm',
  stores: { m: bentostore().useL1Layer(memoryDriver({ maxSize: '64mb' })) },
})
const bentoRaw = new BentoCache({
  default: 'm',
  stores: { m: bentostore().useL1Layer(memoryDriver({ serialize: false, maxItems: 10_000 })) },
})
const cmDefault = createCacheManager()
const rawKeyv = new Keyv()
rawKeyv.serialize = undefined
rawKeyv.deserialize = undefined
const cmRaw = createCacheManager({ stores: [rawKeyv] })
const cacheableDefault = new Cacheable()
const cacheableRaw = new Cacheable({ primary: createKeyv({ useClone: false }) })

for (const [i, k] of keys.entries()) {
  const v = value(i)
  lru.set(k, v)
  await tc.set(k, v)
  await tcTiny?.set(k, v)
  await bentoDefault.set({ key: k, value: v, ttl: '1h' })
  await bentoRaw.set({ key: k, value: v, ttl: '1h' })
  await cmDefault.set(k, v, 3_600_000)
  await cmRaw.set(k, v, 3_600_000)
  await cacheableDefault.set(k, v, '1h')
  await cacheableRaw.set(k, v, '1h')
}
// Sanity: every contender answers the same value.
for (const c of [
  await tc.get('user:7'),
  await bentoDefault.get({ key: 'user:7' }),
  await cmRaw.get('user:7'),
  await cacheableRaw.get('user:7'),
]) {
  if (c?.id !== 7) throw new Error('a contender did not answer the cached value')
}
const loader = () => {
  throw new Error('the loader must not run on a hit')
}

let i = 0
const next = () => keys[i++ & (N - 1)]
const results = await measure([
  { name: 'lru-cache get (sync)', fn: () => lru.get(next()) },
  { name: 'lru-cache get, awaited (async floor)', fn: async () => lru.get(next()), async: true },
  { name: 'tiercache get', fn: () => tc.get(next()), async: true },
  ...(tcTiny
    ? [{ name: "tiercache get (L1 policy 'tinylfu')", fn: () => tcTiny.get(next()), async: true }]
    : []),
  { name: 'tiercache getOrSet', fn: () => tc.getOrSet(next(), loader), async: true },
  { name: 'tiercache peek (sync)', fn: () => tc.peek(next()) },
  {
    name: 'BentoCache get (default: serialized L1)',
    fn: () => bentoDefault.get({ key: next() }),
    async: true,
  },
  { name: 'BentoCache get (serialize: false)', fn: () => bentoRaw.get({ key: next() }), async: true },
  { name: 'cache-manager get (default)', fn: () => cmDefault.get(next()), async: true },
  { name: 'cache-manager get (Keyv without serializer)', fn: () => cmRaw.get(next()), async: true },
  { name: 'cacheable get (default: clones)', fn: () => cacheableDefault.get(next()), async: true },
  { name: 'cacheable get (useClone: false)', fn: () => cacheableRaw.get(next()), async: true },
])
report('L1-hit get: tiercache vs raw lru-cache and peers', results, 'tiercache get')

const tcGet = results['tiercache get']
const speed = (name) => results[name] / tcGet // how many times faster tiercache get is than `name`
const bestRawPeer = Math.min(
  results['BentoCache get (serialize: false)'],
  results['cache-manager get (Keyv without serializer)'],
  results['cacheable get (useClone: false)'],
)
const targets = [
  target('tiercache get vs BentoCache default', speed('BentoCache get (default: serialized L1)'), 10),
  target('tiercache get vs best peer with serialization skipped', bestRawPeer / tcGet, 2),
  target('tiercache get vs raw lru-cache get (sync)', results['lru-cache get (sync)'] / tcGet, 0.5),
  target(
    'tiercache getOrSet vs raw lru-cache get (sync)',
    results['lru-cache get (sync)'] / results['tiercache getOrSet'],
    0.4,
  ),
]
if (tcTiny) {
  targets.push(
    target(
      "tiercache get, L1 policy 'tinylfu' vs 'lru' (within 5% means ≥ 0.95x)",
      tcGet / results["tiercache get (L1 policy 'tinylfu')"],
      0.95,
    ),
  )
}
console.log('\nfor reference (same harness, not targets):')
target(
  'tiercache get vs awaited lru-cache get (the floor of any async get)',
  results['lru-cache get, awaited (async floor)'] / tcGet,
  0,
)
target(
  'tiercache getOrSet vs awaited lru-cache get',
  results['lru-cache get, awaited (async floor)'] / results['tiercache getOrSet'],
  0,
)
target(
  'tiercache peek (sync) vs raw lru-cache get (sync)',
  results['lru-cache get (sync)'] / results['tiercache peek (sync)'],
  0.5,
)

save('engine', { results, targets })
await Promise.all([tc.close(), tcTiny?.close(), bentoDefault.disconnectAll?.(), bentoRaw.disconnectAll?.()])
