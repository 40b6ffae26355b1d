// Issue: metrics on vs off on the L1-hit `get` path, at least 0.7x. Side by side in one process.
//
// With the plugin installed, an L1 hit pays nothing per call for counters (they are read from
// core's own counters at scrape time). Operation timing uses core's diagnostics_channel tracing,
// which is process-wide and costs every traced call several L1 hits, so the plugin subscribes
// only while its per-second budget lasts (default 1000 timed operations per second): in this
// loop that is one window of ~1000 calls each second, opening at a random moment, and it applies
// to the "off" cache in the same process too (a few ms per second for both). Every contender
// yields to the event loop once per 1024 calls, as a server does all the time, so the plugin's
// once-a-second timer runs during the measurement.
//
// The machine is shared, so contenders are measured in pairs: each round runs "off" and "on"
// back to back (alternating which goes first) and the ratio is the median of the per-round
// ratios, which cancels most of the neighbours' noise.
//
// The last part shows why the budget exists: the plugin with every operation timed
// (`timing: { maxPerSecond: Infinity }`) against no plugin at all. It creates and closes that
// plugin's cache every round, so the "off" half of each round runs with nothing subscribed.
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { prometheusMetrics } from '../../packages/metrics-prometheus/dist/index.js'
import { machineLine, measure, save, target } from './lib.mjs'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 41)
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 60)
const keys = Array.from({ length: 512 }, (_, i) => `user:${i}`)

async function filled(namespace, plugins = []) {
  const cache = createCache({ namespace, tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 })], plugins })
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
 * Measures `off` and `on` back to back each round. `setup`/`teardown` run around each round's
 * `on` half when given. Returns median ns/op of each and the median per-round speed ratio.
 */
async function paired(off, on, { setup, teardown } = {}) {
  const one = async (c) => (await measure([c], { rounds: 1, roundMs: ROUND_MS, warmupMs: 0 }))[c.name]
  const runOn = async () => {
    const ctx = setup ? await setup() : undefined
    try {
      return await one(on(ctx))
    } finally {
      if (teardown) await teardown(ctx)
    }
  }
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
table('L1-hit get and getOrSet: metrics on vs off (default timing budget)', [
  ['get, metrics off', get.off, '1.00x'],
  ['get, metrics on', get.on, `${get.ratio.toFixed(2)}x`],
  ['getOrSet, metrics off', getOrSet.off, '1.00x'],
  ['getOrSet, metrics on', getOrSet.on, `${getOrSet.ratio.toFixed(2)}x`],
])
const t1 = target('get, metrics on vs off', get.ratio, 0.7)
const t2 = target('getOrSet, metrics on vs off', getOrSet.ratio, 0.7)

// What the scrape saw: the timed share of the calls above.
const text = await metrics.registry.metrics()
const timed = [
  ...text.matchAll(/^cache_operations_duration_seconds_count\{[^}]*operation="get"[^}]*\} (\d+)/gm),
]
  .map((m) => Number(m[1]))
  .reduce((a, b) => a + b, 0)
const hits = Number(/^cache_hits_total\{[^}]*level="l1_memory"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0)
console.log(
  `\nL1 hits of the "on" cache: ${hits.toLocaleString('en-US')}; get calls timed: ${timed.toLocaleString('en-US')} (${((100 * timed) / hits).toFixed(3)} %)`,
)
await on.close()

// Every operation timed, against no plugin at all in the process.
const everything = await paired(
  { name: 'off', async: true, fn: yielding(() => off.get(keys[i & 511])) },
  (all) => ({ name: 'on', async: true, fn: yielding(() => all.get(keys[i & 511])) }),
  {
    setup: () => filled('all', [prometheusMetrics({ timing: { maxPerSecond: Number.POSITIVE_INFINITY } })]),
    teardown: (all) => all.close(),
  },
)
table('L1-hit get: every operation timed (maxPerSecond: Infinity) vs no plugin in the process', [
  ['get, no plugin', everything.off, '1.00x'],
  ['get, every operation timed', everything.on, `${everything.ratio.toFixed(2)}x`],
])

await off.close()
save('metrics', { get, getOrSet, everything, timedOfHits: { hits, timed }, targets: [t1, t2] })
