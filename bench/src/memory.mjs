// Issue: store-memory get hit vs raw lru-cache get; default serializer vs JSON on a ~1 KB object.
import { defaultSerializer } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { LRUCache } from 'lru-cache'
import { measure, report, save, target } from './lib.mjs'

const N = 1000
const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
const lru = new LRUCache({ max: 10_000 })
const store = memoryStore({ maxBytes: 64 * 2 ** 20 })
const now = Date.now()
for (const k of keys) {
  lru.set(k, { id: k })
  store.set(k, { value: { id: k }, createdAt: now, freshUntil: now + 3.6e6, staleUntil: now + 3.6e6, tags: [], size: 20 })
}
let i = 0
const hits = await measure([
  { name: 'lru-cache get', fn: () => lru.get(keys[i++ & 511]) },
  { name: 'memoryStore get', fn: () => store.get(keys[i++ & 511]) },
])
report('store-memory get hit vs raw lru-cache get', hits, 'lru-cache get')
const t1 = target('memoryStore get vs lru-cache get', hits['lru-cache get'] / hits['memoryStore get'], 0.8)

const doc = {
  id: 12345,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  active: true,
  score: 98.5,
  roles: ['admin', 'editor', 'viewer'],
  address: { street: '12 Analytical Engine Way', city: 'London', zip: 'NW1 6XE', country: 'UK' },
  preferences: { theme: 'dark', language: 'en-GB', notifications: { email: true, sms: false, push: true } },
  history: Array.from({ length: 8 }, (_, j) => ({ at: 1_700_000_000_000 + j * 1000, action: `login-${j}`, ok: j % 3 !== 0 })),
  bio: 'Mathematician and writer, known for her work on the proposed mechanical general-purpose computer.',
}
const size = JSON.stringify(doc).length
const ser = await measure([
  { name: 'JSON.stringify + JSON.parse', fn: () => JSON.parse(JSON.stringify(doc)) },
  { name: 'defaultSerializer encode + decode', fn: () => defaultSerializer.deserialize(defaultSerializer.serialize(doc)) },
])
report(`serializer round trip on a ${size}-byte object`, ser, 'JSON.stringify + JSON.parse')
const t2 = target('defaultSerializer vs JSON (within 2x means ≥ 0.5x)', ser['JSON.stringify + JSON.parse'] / ser['defaultSerializer encode + decode'], 0.5)

save('memory', { hits, serializer: { bytes: size, results: ser }, targets: [t1, t2] })
