// Issue: hot-key tracking must not slow the L1 hit path by more than 15% (warming on vs off,
// side by side). Two cases: keys that are hot (the steady state of an L1 hit: one Map lookup) and
// L1-resident keys read too rarely to become hot (each read counts on its L1 entry).
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { measure, report, save, target } from './lib.mjs'

const hotKeys = Array.from({ length: 512 }, (_, i) => `user:${i}`)
const coldKeys = Array.from({ length: 200_000 }, (_, i) => `item:${i}`)
const make = (warming) =>
  createCache({
    tiers: [memoryStore({ maxEntries: 300_000, maxBytes: Number.POSITIVE_INFINITY })],
    ttl: '1h',
    ...(warming ? { warming } : {}),
  })
const off = make(undefined)
const on = make({ threshold: 10, window: '1m' })
// Cold case: a short window and the highest threshold keep 200,000 keys below "hot".
const coldOff = make(undefined)
const coldOn = make({ threshold: 255, window: '200ms' })
for (const c of [off, on]) for (const k of hotKeys) await c.set(k, { k })
for (const c of [coldOff, coldOn])
  for (let i = 0; i < coldKeys.length; i += 1000)
    await c.setMany(coldKeys.slice(i, i + 1000).map((k) => ({ key: k, value: { k } })))
const loader = () => {
  throw new Error('the loader must not run on a hit')
}
// Make the hot keys hot on `on`.
for (let r = 0; r < 20; r++) for (const k of hotKeys) await on.get(k)
if (on.getStats().warming?.hotKeys !== hotKeys.length) throw new Error('hot keys did not become hot')

let i = 0
let j = 0
const hot = await measure([
  { name: 'get, warming off', fn: () => off.get(hotKeys[i++ & 511]), async: true },
  { name: 'get, warming on', fn: () => on.get(hotKeys[i++ & 511]), async: true },
  { name: 'getOrSet, warming off', fn: () => off.getOrSet(hotKeys[i++ & 511], loader), async: true },
  { name: 'getOrSet, warming on', fn: () => on.getOrSet(hotKeys[i++ & 511], loader), async: true },
])
report('L1-hit get / getOrSet on hot keys: warming on vs off', hot, 'get, warming off')
const cold = await measure([
  { name: 'get, warming off (cold keys)', fn: () => coldOff.get(coldKeys[j++ % 200_000]), async: true },
  {
    name: 'get, warming on (cold keys)',
    fn: () => coldOn.get(coldKeys[j++ % 200_000]),
    async: true,
  },
])
report(
  'L1-hit get on 200,000 keys read too rarely to be hot: warming on vs off',
  cold,
  'get, warming off (cold keys)',
)
if ((coldOn.getStats().warming?.hotKeys ?? 0) > 1000)
  console.log('note: some cold keys became hot during the run')

const targets = [
  target(
    'get on hot keys, warming on vs off (≤ 15% slower means ≥ 0.85x)',
    hot['get, warming off'] / hot['get, warming on'],
    0.85,
  ),
  target(
    'getOrSet on hot keys, warming on vs off',
    hot['getOrSet, warming off'] / hot['getOrSet, warming on'],
    0.85,
  ),
  target(
    'get on cold keys, warming on vs off',
    cold['get, warming off (cold keys)'] / cold['get, warming on (cold keys)'],
    0.85,
  ),
]
save('warming', { hot, cold, targets })
await Promise.all([off.close(), on.close(), coldOff.close(), coldOn.close()])
