// Issue: a read that misses L1 and hits L2 must not create promises for tiers it never visits.
// Counts promises created (async_hooks PROMISE init) during one `await cache.get(key)` that misses
// L1 and hits L2, for caches with 2, 3 and 5 tiers: the counts must be equal.
import { createHook } from 'node:async_hooks'
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { machineLine, save } from './lib.mjs'

function remote(name) {
  const map = new Map()
  let gets = 0
  return {
    name,
    kind: 'remote',
    capabilities: {},
    get gets() {
      return gets
    },
    async get(key) {
      gets++
      return map.get(key)
    },
    async set(key, entry) {
      map.set(key, entry)
    },
    async delete(key) {
      return map.delete(key)
    },
    async clear() {
      map.clear()
    },
  }
}

let promises = 0
const hook = createHook({ init: (_id, type) => type === 'PROMISE' && promises++ })

const rows = []
for (const tiersBelow of [1, 2, 4]) {
  const lower = Array.from({ length: tiersBelow }, (_, i) => remote(`r${i}`))
  const cache = createCache({ tiers: [memoryStore(), ...lower], tierTimeout: 'forever' })
  await cache.set('k', { hello: 'world' })
  const counts = []
  for (let r = 0; r < 5; r++) {
    cache.flushLocal() // L1 miss; L2 (and below) still hold the value
    promises = 0
    hook.enable()
    await cache.get('k')
    hook.disable()
    counts.push(promises)
  }
  const visited = lower.map((s) => s.gets)
  rows.push({ tiers: tiersBelow + 1, promisesPerRead: Math.min(...counts), lowerTierGets: visited })
  await cache.close()
}
console.log(`\n## promises created by one L1-miss / L2-hit read\n${machineLine()}\n`)
console.log('| tiers | promises per read | get calls per lower tier (5 reads + 1 set) |')
console.log('| ---: | ---: | --- |')
for (const r of rows) console.log(`| ${r.tiers} | ${r.promisesPerRead} | ${r.lowerTierGets.join(', ')} |`)
const same = rows.every((r) => r.promisesPerRead === rows[0].promisesPerRead)
console.log(
  same
    ? 'MET  promise count does not grow with unvisited tiers'
    : 'MISS promise count grows with unvisited tiers',
)
save('alloc', { rows, met: same })
