// @tiercache/breaker: what the breaker costs, side by side in one process.
//   1. closed: get hit on a synchronous memory store, bare vs behind withBreaker
//   2. closed: get hit on an asynchronous store (promises, no network), bare vs behind withBreaker
//      (the breaker adds one timeout timer per call)
//   3. open: a refused call (CircuitOpenError, reused per open period) vs a store that throws a
//      fresh StoreError, both caught
//   4. building the refusal error: CircuitOpenError (no stack) vs StoreError (with a stack)
//   5. closed: get hit on redisStore over loopback (the machine's Redis on 127.0.0.1:6379), bare vs
//      behind withBreaker: the overhead that matters in production
// Run after `pnpm build`: node bench/src/breaker.mjs
import { StoreError } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { measure, report, save } from './lib.mjs'

// The bench package does not list @tiercache/breaker yet: import the built package by path.
const { withBreaker, CircuitOpenError } = await import(
  new URL('../../packages/breaker/dist/index.js', import.meta.url).href
)

const now = Date.now()
const entry = (v) => ({
  value: v,
  createdAt: now,
  freshUntil: now + 3.6e6,
  staleUntil: now + 7.2e6,
  tags: [],
  size: 8,
})
const keys = Array.from({ length: 1024 }, (_, i) => `bench:${i}`)
const bare = memoryStore({ maxBytes: 64 * 2 ** 20 })
const wrapped = withBreaker(memoryStore({ maxBytes: 64 * 2 ** 20 }))
for (const k of keys) {
  bare.set(k, entry(k))
  wrapped.set(k, entry(k))
}
let i = 0
const sync = await measure([
  { name: 'memoryStore get', fn: () => bare.get(keys[i++ & 1023]) },
  { name: 'withBreaker(memoryStore) get', fn: () => wrapped.get(keys[i++ & 1023]) },
])
report('closed: sync get hit', sync, 'memoryStore get')

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
const asyncNoTimeout = withBreaker(asyncOf(bare), { timeout: 'forever' })
const async = await measure([
  { name: 'async store get', async: true, fn: () => asyncBare.get(keys[i++ & 1023]) },
  { name: 'withBreaker(async store) get', async: true, fn: () => asyncWrapped.get(keys[i++ & 1023]) },
  {
    name: "withBreaker(async store, { timeout: 'forever' }) get",
    async: true,
    fn: () => asyncNoTimeout.get(keys[i++ & 1023]),
  },
])
report('closed: async get hit', async, 'async store get')

const failing = {
  ...asyncOf(bare),
  get: () => Promise.reject(new StoreError('down', { store: 'async', operation: 'get' })),
}
const open = withBreaker(failing, { failureThreshold: 1, resetTimeout: '1h' })
await open.get('x').catch(() => {})
const swallow = () => undefined
const refused = await measure([
  { name: 'failing store get, caught', async: true, fn: () => failing.get('x').catch(swallow) },
  { name: 'open breaker get, caught', async: true, fn: () => open.get('x').catch(swallow) },
])
report('open: a refused call', refused, 'failing store get, caught')

const errors = await measure([
  { name: 'new StoreError', fn: () => new StoreError('store down', { store: 'redis', operation: 'get' }) },
  { name: 'new CircuitOpenError', fn: () => new CircuitOpenError('redis', 'get', 0) },
])
report('building the error', errors, 'new StoreError')

// 5. Real Redis on loopback, if the machine has one.
let redis
try {
  const { redisStore } = await import(
    new URL('../../packages/store-redis/dist/index.js', import.meta.url).href
  )
  const prefix = `bench-breaker-${process.pid}:`
  const plain = redisStore({ url: 'redis://127.0.0.1:6379', prefix })
  const guarded = withBreaker(redisStore({ url: 'redis://127.0.0.1:6379', prefix }))
  const bytes = new TextEncoder().encode('x'.repeat(100))
  for (const k of keys.slice(0, 64)) await plain.set(k, { ...entry(0), value: bytes, size: 100 })
  redis = await measure(
    [
      { name: 'redisStore get', async: true, fn: () => plain.get(keys[i++ & 63]) },
      { name: 'withBreaker(redisStore) get', async: true, fn: () => guarded.get(keys[i++ & 63]) },
    ],
    { rounds: 7 },
  )
  report('closed: redisStore get hit over loopback', redis, 'redisStore get')
  await plain.clear('')
  await plain.close()
  await guarded.close()
} catch (error) {
  console.log(`\n## closed: redisStore get hit over loopback\nskipped: ${error.message}`)
}

save('breaker', {
  closedSyncOverheadNs: sync['withBreaker(memoryStore) get'] - sync['memoryStore get'],
  closedAsyncOverheadNs: async['withBreaker(async store) get'] - async['async store get'],
  sync,
  async,
  refused,
  errors,
  redis,
})
