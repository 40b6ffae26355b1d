// Trace simulator: replays the research traces of ../shared/traces through the real memory store
// (a get, and a set on a miss, per access) and prints hit ratios side by side: the store with
// policy 'lru', the store with policy 'tinylfu', @neophi/sieve-cache as a peer, and the reference
// columns of the traces' README. The LRU column must equal the reference LRU column: that
// validates the replay.
//
//   pnpm --filter @tiercache/bench sim            # every trace (several minutes)
//   pnpm --filter @tiercache/bench sim --quick    # the small traces only (seconds)
//   TRACES=/path/to/traces pnpm --filter @tiercache/bench sim
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { SieveCache } from '@neophi/sieve-cache'
import { memoryStore } from '@tiercache/store-memory'
import { machineLine, save } from '../src/lib.mjs'
import { readArc, readLirs, readXzInts } from './traces.mjs'

// The traces live beside the repository (../shared/traces), or TRACES names their folder.
const dir =
  process.env.TRACES ??
  ['../../../shared/traces/', '../../../../shared/traces/']
    .map((p) => fileURLToPath(new URL(p, import.meta.url)))
    .find((p) => existsSync(p)) ??
  '../shared/traces'
const quick = process.argv.includes('--quick')
const only = process.argv.slice(2).filter((a) => !a.startsWith('--'))

const traces = {
  OLTP: { file: 'oltp.gz', read: readArc },
  P3: { file: 'p3.gz', read: readArc, large: true },
  Glimpse: { file: 'gli.gz', read: readLirs },
  loop: { file: 'loop.gz', read: readLirs },
  multi2: { file: 'multi2.gz', read: readLirs },
  sprite: { file: 'sprite.gz', read: readLirs },
  '2_pools': { file: '2_pools.gz', read: readLirs },
  web07: { file: 'web07.xz', read: (f) => readXzInts(f, 4) },
  Scarab: { file: 'scarab.xz', read: (f) => readXzInts(f, 8), large: true },
}

// Reference hit ratios (%) from the traces' README: LRU and W-TinyLFU with an adaptive window.
const runs = [
  { trace: 'OLTP', capacity: 1000, lru: 32.83, wtlfu: 40.2, target: 40.5 },
  { trace: 'OLTP', capacity: 2000, lru: 42.47, wtlfu: 46.17, target: 46.5 },
  { trace: 'Glimpse', capacity: 1000, lru: 11.21, wtlfu: 50.72, target: 50.5 },
  { trace: 'loop', capacity: 1000, lru: 0, wtlfu: 89.36, target: 89 },
  { trace: 'P3', capacity: 100_000, lru: 29.34, wtlfu: 39.1, target: 39 },
  { trace: 'P3', capacity: 300_000, lru: 68.93, wtlfu: 66.85 },
  { trace: 'web07', capacity: 1000, lru: 50.41, wtlfu: 53.41, target: 53.5 },
  { trace: 'Scarab', capacity: 100_000, lru: 75.91, wtlfu: 72.62 },
  // No reference figures for these: LRU against the others only.
  { trace: 'multi2', capacity: 1000 },
  { trace: 'sprite', capacity: 1000 },
  { trace: '2_pools', capacity: 1000 },
]

const clock = { now: () => 0 }
const FOREVER = Number.MAX_SAFE_INTEGER

/** Hit ratio (%) of the memory store with `policy`, bounded by `capacity` entries. */
function replayStore(keys, policy, capacity) {
  const store = memoryStore({ policy, maxEntries: capacity, maxBytes: Number.POSITIVE_INFINITY, clock })
  const entry = { value: 1, createdAt: 0, freshUntil: FOREVER, staleUntil: FOREVER, tags: [], size: 1 }
  let hits = 0
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (store.get(key) !== undefined) hits++
    else store.set(key, entry)
  }
  return (100 * hits) / keys.length
}

function replaySieve(keys, capacity) {
  const cache = new SieveCache(capacity)
  let hits = 0
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    if (cache.get(key) !== undefined) hits++
    else cache.set(key, 1)
  }
  return (100 * hits) / keys.length
}

/** Entry size in bytes for a key: log-uniform between 64 B and 16 KiB, fixed per key. */
function sizeOf(key) {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193)
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0
  return Math.round(64 * 256 ** (h / 2 ** 32))
}

/** Hit ratio and byte hit ratio (%) with mixed entry sizes, bounded by `maxBytes`. */
function replayBytes(keys, policy, maxBytes) {
  const store = memoryStore({ policy, maxBytes, maxEntryBytes: 16_384, clock })
  let hits = 0
  let hitBytes = 0
  let allBytes = 0
  let maxSeen = 0
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]
    const size = sizeOf(key)
    allBytes += size
    if (store.get(key) !== undefined) {
      hits++
      hitBytes += size
    } else {
      store.set(key, { value: 1, createdAt: 0, freshUntil: FOREVER, staleUntil: FOREVER, tags: [], size })
      const b = store.stats().bytes
      if (b > maxSeen) maxSeen = b
    }
  }
  if (maxSeen > maxBytes) throw new Error(`${policy}: ${maxSeen} bytes held over maxBytes ${maxBytes}`)
  return { hit: (100 * hits) / keys.length, byteHit: (100 * hitBytes) / allBytes, maxSeen }
}

const fmt = (x) => (x === undefined ? '' : x.toFixed(2))
console.log(`# Trace replay through memoryStore\n${machineLine()}\n`)
if (!existsSync(dir)) {
  console.log(`no traces at ${dir}; set TRACES=<folder>`)
  process.exit(1)
}
console.log(
  '| trace @ capacity | accesses | LRU | tinylfu | SIEVE | ref. LRU | ref. W-TinyLFU adaptive | target | tinylfu vs max(LRU, ref.) | seconds |',
)
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |')
const loaded = new Map()
const load = (name) => {
  if (!loaded.has(name)) loaded.set(name, traces[name].read(join(dir, traces[name].file)))
  return loaded.get(name)
}
const results = []
let failures = 0
for (const run of runs) {
  if (quick && traces[run.trace].large) continue
  if (only.length > 0 && !only.includes(run.trace)) continue
  const started = performance.now()
  const keys = load(run.trace)
  const lru = replayStore(keys, 'lru', run.capacity)
  const tinylfu = replayStore(keys, 'tinylfu', run.capacity)
  const sieve = replaySieve(keys, run.capacity)
  const seconds = (performance.now() - started) / 1000
  const floor = run.lru === undefined ? lru : Math.max(lru, run.wtlfu)
  const margin = tinylfu - floor
  const lruOk = run.lru === undefined || fmt(lru) === fmt(run.lru)
  const targetOk = run.target === undefined || tinylfu >= run.target
  if (!lruOk || !targetOk || margin < -0.5) failures++
  results.push({ ...run, keys: keys.length, lruMeasured: lru, tinylfu, sieve, seconds })
  console.log(
    `| ${run.trace} @ ${run.capacity.toLocaleString('en-US')} | ${keys.length.toLocaleString('en-US')} | ${fmt(lru)}${lruOk ? '' : ' (≠ ref.)'} | **${fmt(tinylfu)}** | ${fmt(sieve)} | ${fmt(run.lru)} | ${fmt(run.wtlfu)} | ${run.target === undefined ? '' : `≥ ${run.target}${targetOk ? '' : ' (missed)'}`} | ${margin >= 0 ? '+' : ''}${margin.toFixed(2)} | ${seconds.toFixed(1)} |`,
  )
}

if (only.length === 0 || only.includes('OLTP')) {
  // One byte-bounded run: OLTP with sizes from 64 B to 16 KiB (mean about 2.8 KiB), 4 MiB of L1.
  const keys = load('OLTP')
  const maxBytes = 4 * 2 ** 20
  const started = performance.now()
  const lru = replayBytes(keys, 'lru', maxBytes)
  const tinylfu = replayBytes(keys, 'tinylfu', maxBytes)
  const seconds = (performance.now() - started) / 1000
  console.log(
    '\n| OLTP, sizes 64 B–16 KiB, maxBytes 4 MiB | hit ratio | byte hit ratio | most bytes held | seconds |',
  )
  console.log('| --- | ---: | ---: | ---: | ---: |')
  console.log(`| LRU | ${fmt(lru.hit)} | ${fmt(lru.byteHit)} | ${lru.maxSeen.toLocaleString('en-US')} | |`)
  console.log(
    `| tinylfu | **${fmt(tinylfu.hit)}** | ${fmt(tinylfu.byteHit)} | ${tinylfu.maxSeen.toLocaleString('en-US')} | ${seconds.toFixed(1)} (both) |`,
  )
  results.push({ trace: 'OLTP bytes', maxBytes, lru, tinylfu, seconds })
}
save(quick ? 'sim-quick' : 'sim', { results })
console.log(
  failures === 0
    ? '\nall rows: LRU equals the reference, tinylfu meets its targets'
    : `\n${failures} row(s) off target`,
)
