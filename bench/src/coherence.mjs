// Issue: coherence. What the coherence mechanisms cost, each measured against the same engine with
// that one mechanism switched off in this process (the variants are unsafe; they exist only here):
// - the write fence on `set` ([memory, Redis], a bus);
// - invalidations reaching shared tiers bottom-up (one after the other) instead of in parallel
//   (`delete` on [memory, Redis, PostgreSQL]);
// - leases and conditional writes on a back-fill from a shared L3 into Redis (a read that misses
//   L1 and Redis and finds the value in PostgreSQL).
// Runs against its own redis-server, and PostgreSQL on 127.0.0.1:5432 (POSTGRES_URL).
import { createCache } from '@tiercache/core'
import { Fence } from '../../packages/core/dist/engine/fence.js'
import { TierSet } from '../../packages/core/dist/engine/tier-set.js'
import { kyselyStore } from '../../packages/fallback-kysely/dist/index.js'
import { memoryStore } from '../../packages/store-memory/dist/index.js'
import { RedisStore, redisBus, redisStore } from '../../packages/store-redis/dist/index.js'
import { startRedis } from '../../packages/test-servers/dist/index.js'
import { measure, report, save } from './lib.mjs'

const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'
const server = await startRedis()
const url = server.url
const prefix = `tc-coh:${process.pid}:`
const table = `tc_bench_coh_${process.pid}`
const doc = { id: 1, name: 'Ada Lovelace', roles: ['admin', 'editor'], address: { city: 'London' } }

/** Swaps `object[name]` for `value` while `fn` runs. */
async function without(object, name, value, fn) {
  const original = object[name]
  object[name] = value
  try {
    return await fn()
  } finally {
    object[name] = original
  }
}

const results = {}

// 1. The write fence on `set`.
{
  const cache = createCache({
    namespace: 'w',
    tiers: [memoryStore(), redisStore({ url, prefix })],
    bus: redisBus({ url, prefix }),
  })
  let i = 0
  const set = () => cache.set(`k${i++ & 1023}`, doc)
  const fenced = { name: 'set (fence on)', async: true, fn: set }
  const ticket = { scope: { covers: () => false } }
  const open = {
    name: 'set (fence off)',
    async: true,
    fn: () =>
      without(
        Fence.prototype,
        'begin',
        () => ticket,
        () => without(Fence.prototype, 'end', () => {}, set),
      ),
  }
  const r = await measure([fenced, open], { rounds: 11 })
  report('set on [memory, Redis] with a bus: the write fence', r, 'set (fence off)')
  results.fence = r
  await cache.close()
}

// 2. Invalidations bottom-up vs in parallel, and 3. leases on back-fills: [memory, Redis, PostgreSQL].
let pg
try {
  pg = kyselyStore({ postgres: POSTGRES_URL }, { table, poolSize: 4 })
  await pg.migrate()
} catch (error) {
  console.log(`\n(PostgreSQL not reachable, suites 2 and 3 skipped: ${error.message})`)
  pg = undefined
}
if (pg) {
  const l1 = memoryStore()
  const l2 = redisStore({ url, prefix })
  const cache = createCache({ namespace: 'd', tiers: [l1, l2, pg], bus: redisBus({ url, prefix }) })
  const keys = Array.from({ length: 256 }, (_, i) => `k${i}`)
  for (const k of keys) await cache.set(k, doc)

  let i = 0
  const del = async () => {
    const k = keys[i++ & 255]
    await cache.delete(k)
    await cache.set(k, doc) // put it back for the next round (the same in both variants)
  }
  const parallelEach = TierSet.prototype.each
  const bottomUp = { name: 'delete + set (bottom-up)', async: true, fn: del }
  const parallel = {
    name: 'delete + set (parallel)',
    async: true,
    fn: () =>
      without(
        TierSet.prototype,
        'each',
        function (tiers, operation, run, options = {}) {
          return parallelEach.call(this, tiers, operation, run, { ...options, sequential: false })
        },
        del,
      ),
  }
  const r2 = await measure([bottomUp, parallel], { rounds: 11 })
  report(
    'delete on [memory, Redis, PostgreSQL] (plus the set that restores the key)',
    r2,
    'delete + set (parallel)',
  )
  results.invalidation = r2

  // A read that finds the value only in PostgreSQL: the key is removed from L1 and Redis first
  // (the same work in both variants), then `get` reads down and back-fills Redis.
  let j = 0
  const backfillRead = async () => {
    const k = keys[j++ & 255]
    l1.delete(k)
    await l2.delete(`d:${k}`)
    await cache.get(k)
  }
  const leased = { name: 'L3-hit get (lease + conditional back-fill)', async: true, fn: backfillRead }
  const plain = {
    name: 'L3-hit get (plain back-fill, unsafe)',
    async: true,
    fn: () =>
      without(
        RedisStore.prototype,
        'lease',
        async () => true,
        () =>
          without(
            RedisStore.prototype,
            'conditionalSet',
            async function (key, entry) {
              await this.set(key, entry)
              return true
            },
            backfillRead,
          ),
      ),
  }
  const r3 = await measure([leased, plain], { rounds: 11 })
  report('back-fill from PostgreSQL into Redis', r3, 'L3-hit get (plain back-fill, unsafe)')
  results.backfill = r3
  await pg.dropSchema()
  await cache.close()
}

save('coherence', results)
await server.stop()
