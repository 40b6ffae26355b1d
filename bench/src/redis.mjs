// Issue: store-redis L2-hit get with 100 concurrent callers vs raw ioredis (auto-pipelined
// GET + decodeEntry) and vs BentoCache's L2-only get; getMany(100) vs 100 sequential gets.
// Runs against its own redis-server (started with @tiercache/test-servers) unless REDIS_URL is set.

import * as core from '@tiercache/core'
import * as storeKit from '@tiercache/core/store'
import { BentoCache, bentostore } from 'bentocache'
import { redisDriver } from 'bentocache/drivers/redis'
import { Redis } from 'ioredis'
import { redisStore } from '../../packages/store-redis/dist/index.js'
import { startRedis } from '../../packages/test-servers/dist/index.js'
import { measure, report, save, target } from './lib.mjs'

const { defaultSerializer } = core
const { decodeEntry } = storeKit

const server = process.env.REDIS_URL ? undefined : await startRedis()
const url = process.env.REDIS_URL ?? server.url
const { hostname, port } = new URL(url)
const prefix = `tc-bench:${process.pid}:`

const doc = {
  id: 12345,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  active: true,
  score: 98.5,
  roles: ['admin', 'editor', 'viewer'],
  address: { street: '12 Analytical Engine Way', city: 'London', zip: 'NW1 6XE', country: 'UK' },
  preferences: { theme: 'dark', language: 'en-GB', notifications: { email: true, sms: false, push: true } },
  bio: 'Mathematician and writer, known for her work on the proposed mechanical general-purpose computer.',
}

const CONCURRENCY = 100
const keys = Array.from({ length: CONCURRENCY }, (_, i) => `app:user:${i}`)
const store = redisStore({ url, prefix })
const raw = new Redis(url, { enableAutoPipelining: true })
const bento = new BentoCache({
  default: 'l2',
  prefix: `${prefix}bento`,
  stores: {
    l2: bentostore().useL2Layer(redisDriver({ connection: { host: hostname, port: Number(port) } })),
  },
})

const now = Date.now()
const bytes = defaultSerializer.serialize(doc)
await store.setMany(
  keys.map((k) => [
    k,
    { value: bytes, createdAt: now, freshUntil: now + 3.6e6, staleUntil: now + 3.6e6, tags: [] },
  ]),
)
for (const k of keys) await bento.set({ key: k, value: doc, ttl: '1h' })

// The engine with Redis as its only tier, when core exports it.
let engine
if (typeof core.createCache === 'function') {
  try {
    engine = core.createCache({ namespace: 'app', tiers: [redisStore({ url, prefix })] })
    for (const k of keys) await engine.set(k.slice('app:'.length), doc, { ttl: '1h' })
  } catch (error) {
    console.log(`(engine contender skipped: ${error.message})`)
    engine = undefined
  }
}

// Sanity: every contender reads the same document.
const check = [
  defaultSerializer.deserialize((await store.get(keys[0])).value),
  defaultSerializer.deserialize(decodeEntry(await raw.getBuffer(prefix + keys[0])).value),
  await bento.get({ key: keys[0] }),
  ...(engine ? [await engine.get(keys[0].slice('app:'.length))] : []),
]
for (const v of check) if (v?.email !== doc.email) throw new Error('a contender read the wrong value')

const all = (fn) => Promise.all(keys.map(fn))
const concurrent = [
  {
    name: 'ioredis getBuffer + decodeEntry',
    async: true,
    fn: () => all((k) => raw.getBuffer(prefix + k).then(decodeEntry)),
  },
  { name: 'redisStore get', async: true, fn: () => all((k) => store.get(k)) },
  {
    name: 'redisStore get + deserialize',
    async: true,
    fn: () => all((k) => store.get(k).then((e) => defaultSerializer.deserialize(e.value))),
  },
  { name: 'BentoCache L2-only get', async: true, fn: () => all((k) => bento.get({ key: k })) },
]
if (engine) {
  const rel = keys.map((k) => k.slice('app:'.length))
  concurrent.push({
    name: 'tiercache cache.get (Redis only)',
    async: true,
    fn: () => Promise.all(rel.map((k) => engine.get(k))),
  })
}
// More rounds than the default: the round trips make this suite noisier than in-process ones.
const hits = await measure(concurrent, { rounds: Number(process.env.BENCH_ROUNDS ?? 25) })
report(
  `L2-hit get, ${CONCURRENCY} concurrent callers (one op = ${CONCURRENCY} gets)`,
  hits,
  'ioredis getBuffer + decodeEntry',
)
/**
 * Paired measurement for the target ratios: runs one operation of `a` and one of `b` back to
 * back (alternating which goes first), many times, and takes the median of the per-pair speed
 * ratios. Both sides of each pair see the same machine load, which matters on a shared machine
 * where the round-robin rounds above can differ by ±20 %.
 */
async function paired(a, b, pairs = Number(process.env.BENCH_PAIRS ?? 1500)) {
  const ratios = []
  for (let i = 0; i < pairs + 100; i++) {
    const first = i % 2 === 0 ? a : b
    const second = first === a ? b : a
    const t0 = performance.now()
    await first.fn()
    const t1 = performance.now()
    await second.fn()
    const t2 = performance.now()
    const [ta, tb] = first === a ? [t1 - t0, t2 - t1] : [t2 - t1, t1 - t0]
    if (i >= 100) ratios.push(ta / tb) // speed of b relative to a
  }
  ratios.sort((x, y) => x - y)
  return ratios[ratios.length >> 1]
}
const byName = Object.fromEntries(concurrent.map((c) => [c.name, c]))
const pairedRatios = {
  storeVsRaw: await paired(byName['ioredis getBuffer + decodeEntry'], byName['redisStore get']),
  storeVsBento: await paired(byName['BentoCache L2-only get'], byName['redisStore get + deserialize']),
  ...(engine
    ? {
        engineVsBento: await paired(
          byName['BentoCache L2-only get'],
          byName['tiercache cache.get (Redis only)'],
        ),
      }
    : {}),
}
console.log('\nPaired medians (one op of each back to back, alternating order):')
const targets = [
  target('redisStore get vs raw ioredis GET + decode', pairedRatios.storeVsRaw, 0.9),
  target('redisStore get + deserialize vs BentoCache L2-only get', pairedRatios.storeVsBento, 1.5),
]
if (engine) {
  targets.push(
    target('tiercache cache.get (Redis only) vs BentoCache L2-only get', pairedRatios.engineVsBento, 1.5),
  )
}

const batch = await measure([
  { name: 'redisStore getMany(100)', async: true, fn: () => store.getMany(keys) },
  {
    name: '100 sequential redisStore get',
    async: true,
    fn: async () => {
      let last
      for (const k of keys) last = await store.get(k)
      return last
    },
  },
])
report('getMany(100) vs 100 sequential gets', batch, '100 sequential redisStore get')
targets.push(
  target(
    'getMany(100) vs 100 sequential gets',
    batch['100 sequential redisStore get'] / batch['redisStore getMany(100)'],
    5,
  ),
)

save('redis', { concurrency: CONCURRENCY, valueBytes: bytes.byteLength, hits, pairedRatios, batch, targets })

await store.clear('')
await Promise.all([store.close(), engine?.close?.(), bento.disconnect()])
raw.disconnect()
await server?.stop()
