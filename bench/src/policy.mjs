// Issue 18: the memory store's 'tinylfu' policy against raw lru-cache and against the 'lru'
// policy: get hit, set with eviction, and memory per entry (heap deltas). Each pairing runs in
// its own process, with the raw lru-cache configured like the store's bound.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { memoryStore } from '@tiercache/store-memory'
import { LRUCache } from 'lru-cache'
import { measure, report, save, target } from './lib.mjs'

const mode = process.argv[2]
const policy = process.argv[3]
const now = Date.now()
const entryOf = (k, size = 20) => ({
  value: { id: k },
  createdAt: now,
  freshUntil: now + 3.6e6,
  staleUntil: now + 3.6e6,
  tags: [],
  size,
})
const storeFor = (bound, p, n) =>
  bound === 'bytes'
    ? memoryStore({ policy: p, maxBytes: n * 20 })
    : memoryStore({ policy: p, maxEntries: n, maxBytes: Number.POSITIVE_INFINITY })
const lruFor = (bound, n) =>
  bound === 'bytes' ? new LRUCache({ maxSize: n * 20 }) : new LRUCache({ max: n })
const lruSet = (lru, bound, k, v) => (bound === 'bytes' ? lru.set(k, v, { size: 20 }) : lru.set(k, v))

if (mode === 'get' || mode === 'set') {
  const bound = policy // 'bytes' | 'entries'
  const N = mode === 'get' ? 1 << 20 : 1000
  const keys = Array.from({ length: 1000 }, (_, i) => `user:${i}`)
  const lru = lruFor(bound, N)
  const store = storeFor(bound, 'tinylfu', N)
  for (const k of keys) {
    lruSet(lru, bound, k, { id: k })
    store.set(k, entryOf(k))
  }
  let i = 0
  let j = 0
  const fresh = Array.from({ length: 1 << 16 }, (_, n) => `new:${n}`)
  const entries = fresh.map((k) => entryOf(k))
  const values = fresh.map((k) => ({ id: k }))
  const results =
    mode === 'get'
      ? await measure([
          { name: 'lru-cache get', fn: () => lru.get(keys[i++ & 511]) },
          { name: "memoryStore get (policy 'tinylfu')", fn: () => store.get(keys[i++ & 511]) },
        ])
      : await measure([
          {
            name: 'lru-cache set with eviction',
            fn: () => {
              const n = i++ & 0xffff
              return lruSet(lru, bound, fresh[n], values[n])
            },
          },
          {
            name: "memoryStore set with eviction (policy 'tinylfu')",
            fn: () => {
              const n = j++ & 0xffff
              store.set(fresh[n], entries[n])
              return 1
            },
          },
        ])
  process.stdout.write(`${JSON.stringify(results)}\n`)
  process.exit(0)
}
if (mode === 'heap') {
  // Heap per entry: N entries. The keys and entry objects are built beforehand (the engine builds
  // them too): the delta is what the store itself adds per entry.
  const N = 100_000
  globalThis.gc()
  const used = () => {
    const m = process.memoryUsage()
    return m.heapUsed + m.arrayBuffers
  }
  const start = used()
  const keys = Array.from({ length: N }, (_, n) => `user:${n}`)
  const entries = keys.map((k) => entryOf(k))
  globalThis.gc()
  const before = used()
  const store = storeFor(process.argv[4], policy, N)
  for (let n = 0; n < N; n++) store.set(keys[n], entries[n])
  // Array buffers dropped by the store's growth are freed by finalizers after a collection.
  for (let k = 0; k < 3; k++) {
    globalThis.gc()
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const after = used()
  if (store.stats().entries !== N) throw new Error(`held ${store.stats().entries} of ${N}`)
  process.stdout.write(`${JSON.stringify({ perEntry: (after - before) / N, entry: (before - start) / N })}\n`)
  process.exit(0)
}

const child = (...args) => {
  const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], {
    encoding: 'utf8',
  })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').at(-1))
}
const out = { get: {}, set: {}, heap: {} }
const targets = []
for (const bound of ['bytes', 'entries']) {
  const g = child('get', bound)
  report(`get hit, policy 'tinylfu' vs raw lru-cache, bounded by ${bound}`, g, 'lru-cache get')
  out.get[bound] = g
  targets.push(
    target(
      `tinylfu get vs lru-cache get (${bound})`,
      g['lru-cache get'] / g["memoryStore get (policy 'tinylfu')"],
      0.8,
    ),
  )
  const s = child('set', bound)
  report(
    `set with eviction, policy 'tinylfu' vs raw lru-cache, bounded by ${bound}`,
    s,
    'lru-cache set with eviction',
  )
  out.set[bound] = s
  targets.push(
    target(
      `tinylfu set with eviction vs lru-cache set (${bound})`,
      s['lru-cache set with eviction'] / s["memoryStore set with eviction (policy 'tinylfu')"],
      0.7,
    ),
  )
}
console.log(
  '\n## memory the store adds per entry (heap + array buffers, 100,000 entries; the key and entry objects not counted)\n',
)
console.log(
  "| bound | policy 'lru' | policy 'tinylfu' | ratio | key + entry objects |\n| --- | ---: | ---: | ---: | ---: |",
)
for (const bound of ['bytes', 'entries']) {
  const l = child('heap', 'lru', bound)
  const lru = l.perEntry
  const tlfu = child('heap', 'tinylfu', bound).perEntry
  out.heap[bound] = { lru, tinylfu: tlfu, entry: l.entry }
  console.log(
    `| ${bound} | ${lru.toFixed(0)} B | ${tlfu.toFixed(0)} B | ${(tlfu / lru).toFixed(2)}x | ${l.entry.toFixed(0)} B |`,
  )
  targets.push({
    label: `heap per entry tinylfu / lru (${bound})`,
    value: tlfu / lru,
    target: 1.3,
    met: tlfu / lru <= 1.3,
  })
  console.log(
    `${tlfu / lru <= 1.3 ? 'MET ' : 'MISS'} heap per entry (${bound}): ${(tlfu / lru).toFixed(2)}x (target ≤ 1.3x)`,
  )
}
save('policy', { ...out, targets })
