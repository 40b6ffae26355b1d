// Closed-state overhead of @tiercache/breaker, side by side in one process:
//   1. get on a synchronous memory store: bare vs behind withBreaker (closed)
//   2. get on an asynchronous store: bare vs behind withBreaker (closed, one timeout timer per call)
//   3. refusing a call while open (CircuitOpenError without a stack) vs building a plain Error
// Prints one line per pair with the ratio, then a machine line. Run: node bench/src/breaker.mjs
// (after `pnpm build`).
import { arch, cpus, platform } from 'node:os'
import { StoreError } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'

// The bench package does not list @tiercache/breaker yet; import the built package by path.
const { withBreaker, CircuitOpenError } = await import(
  new URL('../../packages/breaker/dist/index.js', import.meta.url).href
)

const ROUNDS = 7

/** Runs fn(n) for about `ms` milliseconds and returns nanoseconds per operation. */
async function measure(fn, ms = 300) {
  let n = 1000
  for (;;) {
    const t0 = process.hrtime.bigint()
    await fn(n)
    const elapsed = Number(process.hrtime.bigint() - t0) / 1e6
    if (elapsed >= ms) return (elapsed * 1e6) / n
    n = Math.ceil(n * Math.min(10, Math.max(2, (ms * 1.2) / Math.max(elapsed, 1))))
  }
}

/** Interleaves a and b for ROUNDS rounds; returns medians in ns/op. */
async function pair(a, b) {
  const ra = []
  const rb = []
  await measure(a, 100)
  await measure(b, 100)
  for (let i = 0; i < ROUNDS; i++) {
    ra.push(await measure(a))
    rb.push(await measure(b))
  }
  const median = (xs) => xs.sort((x, y) => x - y)[xs.length >> 1]
  return [median(ra), median(rb)]
}

function print(label, nameA, a, nameB, b) {
  console.log(
    `${label}: ${nameA} ${a.toFixed(1)} ns/op, ${nameB} ${b.toFixed(1)} ns/op, ratio ${(b / a).toFixed(2)}x`,
  )
}

const entry = (v) => {
  const now = Date.now()
  return {
    value: v,
    createdAt: now,
    freshUntil: now + 3_600_000,
    staleUntil: now + 7_200_000,
    tags: [],
    size: 8,
  }
}

// 1. Synchronous memory store.
const keys = Array.from({ length: 1024 }, (_, i) => `bench:${i}`)
const bare = memoryStore({ maxBytes: 64 * 2 ** 20 })
const wrapped = withBreaker(memoryStore({ maxBytes: 64 * 2 ** 20 }))
for (const k of keys) {
  bare.set(k, entry(k))
  wrapped.set(k, entry(k))
}
let sink = 0
const syncGet = (store) => (n) => {
  for (let i = 0; i < n; i++) if (store.get(keys[i & 1023]) !== undefined) sink++
}
const [s1, s2] = await pair(syncGet(bare), syncGet(wrapped))
print('sync memory get (hit)', 'bare', s1, 'withBreaker', s2)

// 2. Asynchronous store (promises, like a network store but without the network).
const asyncOf = (inner) => ({
  name: 'async',
  kind: 'remote',
  capabilities: {},
  get: (k) => Promise.resolve(inner.get(k)),
  set: (k, e) => Promise.resolve(inner.set(k, e)),
  delete: (k) => Promise.resolve(inner.delete(k)),
  clear: (ns) => Promise.resolve(inner.clear(ns)),
})
const asyncBare = asyncOf(bare)
const asyncWrapped = withBreaker(asyncOf(bare))
const asyncGet = (store) => async (n) => {
  for (let i = 0; i < n; i++) if ((await store.get(keys[i & 1023])) !== undefined) sink++
}
const [a1, a2] = await pair(asyncGet(asyncBare), asyncGet(asyncWrapped))
print('async get (hit)', 'bare', a1, 'withBreaker', a2)

// 3. Building the refusal: CircuitOpenError (no stack) vs StoreError and Error (with stacks).
const build = (make) => (n) => {
  for (let i = 0; i < n; i++) if (make().code !== undefined) sink++
}
const [e1, e2] = await pair(
  build(() => new StoreError('store down', { store: 'redis', operation: 'get' })),
  build(() => new CircuitOpenError('redis', 'get', 0)),
)
print('error construction', 'StoreError', e1, 'CircuitOpenError', e2)

// 4. A refused call while open, end to end (error + rejected promise + await).
const failing = {
  ...asyncOf(bare),
  get: () => Promise.reject(new StoreError('down', { store: 'async', operation: 'get' })),
}
const open = withBreaker(failing, { failureThreshold: 1, resetTimeout: '1h' })
await open.get('x').catch(() => {})
const refused = (store) => async (n) => {
  for (let i = 0; i < n; i++) await store.get('x').catch(() => sink++)
}
const [r1, r2] = await pair(refused(failing), refused(open))
print('failing get, caught', 'bare store throwing StoreError', r1, 'open breaker', r2)

const cpu = cpus()[0]?.model ?? 'unknown cpu'
console.log(
  `machine: node ${process.version}, ${platform()} ${arch()}, ${cpu}, ${cpus().length} cores (sink ${sink > 0})`,
)
