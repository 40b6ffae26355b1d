// Issue: metrics on vs off on the L1-hit `get` path, at least 0.7x. Side by side in one process.
//
// With the plugin installed, an L1 hit pays nothing per call for counters (they are read from
// core's own counters at scrape time). Operations are timed by an observer the plugin registers
// with its own cache: every operation that leaves L1 is timed, and one L1 hit of `get` and of
// `getOrSet` in `l1SampleEvery` (a cache option, default 64), reported with that weight. An
// untimed L1 hit costs a counter decrement; a timed one two `performance.now()` reads and a
// weighted histogram observation. The observer belongs to one cache, so the "off" cache in the
// same process pays nothing. Every contender yields to the event loop once per 1024 calls, as a
// server does.
//
// The machine is shared, so contenders are measured in pairs: each round runs "off" and "on"
// back to back (alternating which goes first) and the ratio is the median of the per-round
// ratios, which cancels most of the neighbours' noise.
//
// For reference, the last part times far more L1 hits: `l1SampleEvery: 2` (every other hit
// timed, weight 2) against the cache without the plugin.
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { prometheusMetrics } from '../../packages/metrics-prometheus/dist/index.js'
import { machineLine, measure, save, target } from './lib.mjs'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 60)
const keys = Array.from({ length: 512 }, (_, i) => `user:${i}`)

async function filled(namespace, plugins = [], options = {}) {
  const cache = createCache({
    namespace,
    tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 })],
    plugins,
    ...options,
  })
  for (const k of keys) await cache.set(k, { id: k, name: 'Ada' })
  return cache
}

let i = 0
const turn = () => new Promise((resolve) => setImmediate(resolve))
/** Runs `op`, after a turn of the event loop once per 1024 calls. */
const yielding = (op) => () => ((++i & 1023) === 0 ? turn().then(op) : op())
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Measures `off` and `on()` back to back each round. Returns median ns/op of each and the median
 * per-round speed ratio.
 */
async function paired(off, on) {
  const one = async (c) => (await measure([c], { rounds: 1, roundMs: ROUND_MS, warmupMs: 0 }))[c.name]
  const runOn = () => one(on())
  for (let w = 0; w < 3; w++) {
    await one(off)
    await runOn()
  }
  const a = []
  const b = []
  const ratios = []
  for (let r = 0; r < ROUNDS; r++) {
    let x
    let y
    if (r % 2 === 0) {
      x = await one(off)
      y = await runOn()
    } else {
      y = await runOn()
      x = await one(off)
    }
    a.push(x)
    b.push(y)
    ratios.push(x / y)
  }
  return { off: median(a), on: median(b), ratio: median(ratios) }
}

function table(title, rows) {
  console.log(`\n## ${title}\n${machineLine()}\n`)
  console.log('| contender | ns/op (median) | ops/s | speed vs off (median of per-round ratios) |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const [name, ns, speed] of rows) {
    console.log(`| ${name} | ${ns.toFixed(1)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} | ${speed} |`)
  }
}

const off = await filled('off')
const metrics = prometheusMetrics()
const on = await filled('on', [metrics])
const loader = () => ({ id: 'never', name: 'called' })

const get = await paired({ name: 'off', async: true, fn: yielding(() => off.get(keys[i & 511])) }, () => ({
  name: 'on',
  async: true,
  fn: yielding(() => on.get(keys[i & 511])),
}))
const getOrSet = await paired(
  { name: 'off', async: true, fn: yielding(() => off.getOrSet(keys[i & 511], loader)) },
  () => ({ name: 'on', async: true, fn: yielding(() => on.getOrSet(keys[i & 511], loader)) }),
)
table('L1-hit get and getOrSet: metrics on vs off (default l1SampleEvery: 64)', [
  ['get, metrics off', get.off, '1.00x'],
  ['get, metrics on', get.on, `${get.ratio.toFixed(2)}x`],
  ['getOrSet, metrics off', getOrSet.off, '1.00x'],
  ['getOrSet, metrics on', getOrSet.on, `${getOrSet.ratio.toFixed(2)}x`],
])
const t1 = target('get, metrics on vs off', get.ratio, 0.7)
const t2 = target('getOrSet, metrics on vs off', getOrSet.ratio, 0.7)

// What the scrape saw: the weighted histogram counts every L1 hit, within l1SampleEvery - 1 per
// operation, from one timed hit in 64.
const text = await metrics.registry.metrics()
const counted = (operation) =>
  [
    ...text.matchAll(
      new RegExp(
        `^cache_operations_duration_seconds_count\\{[^}]*operation="${operation}",level="l1_memory",outcome="hit"[^}]*\\} (\\d+)`,
        'gm',
      ),
    ),
  ]
    .map((m) => Number(m[1]))
    .reduce((a, b) => a + b, 0)
const hits = Number(/^cache_hits_total\{[^}]*level="l1_memory"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0)
const weighted = counted('get') + counted('getOrSet')
console.log(
  `\nL1 hits of the "on" cache: ${hits.toLocaleString('en-US')}; histogram _count of its L1 hits: ${weighted.toLocaleString('en-US')} (${(hits - weighted).toLocaleString('en-US')} behind, at most 2 × 63), from ${Math.round(weighted / 64).toLocaleString('en-US')} timed hits`,
)
await on.close()

// Far more hits timed: every other one, against the cache without the plugin.
const dense = await filled('dense', [prometheusMetrics()], { l1SampleEvery: 2 })
const every2 = await paired({ name: 'off', async: true, fn: yielding(() => off.get(keys[i & 511])) }, () => ({
  name: 'on',
  async: true,
  fn: yielding(() => dense.get(keys[i & 511])),
}))
table('L1-hit get: every other hit timed (l1SampleEvery: 2) vs metrics off', [
  ['get, metrics off', every2.off, '1.00x'],
  ['get, l1SampleEvery: 2', every2.on, `${every2.ratio.toFixed(2)}x`],
])
console.log(
  `\nCost of one timed L1 hit, from this pair: about ${(2 * (every2.on - every2.off)).toFixed(0)} ns`,
)
await dense.close()

await off.close()
save('metrics', { get, getOrSet, every2, weightedOfHits: { hits, weighted }, targets: [t1, t2] })
