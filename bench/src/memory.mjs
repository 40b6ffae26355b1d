// Issue: store-memory get hit vs raw lru-cache get; default serializer vs JSON on a ~1 KB object.

import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { defaultSerializer } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { LRUCache } from 'lru-cache'
import { measure, report, save, target } from './lib.mjs'

const N = 1000
const keys = Array.from({ length: N }, (_, i) => `user:${i}`)
// store-memory vs raw lru-cache, side by side in one process per bound type. lru-cache runs in a
// different internal mode when bounded by count (`max`: preallocated typed arrays) than by bytes
// (`maxSize` alone: growable arrays); both modes in one process make lru-cache's own `get`
// polymorphic and slow every contender, so each pair gets its own process with the raw baseline
// configured exactly like the store's LRU.
const mode = process.argv[2]
if (mode === 'bytes' || mode === 'entries') {
  const lru = mode === 'bytes' ? new LRUCache({ maxSize: 64 * 2 ** 20 }) : new LRUCache({ max: 10_000 })
  const store =
    mode === 'bytes'
      ? memoryStore({ maxBytes: 64 * 2 ** 20 })
      : memoryStore({ maxEntries: 10_000, maxBytes: Number.POSITIVE_INFINITY })
  const now = Date.now()
  for (const k of keys) {
    if (mode === 'bytes') lru.set(k, { id: k }, { size: 20 })
    else lru.set(k, { id: k })
    store.set(k, {
      value: { id: k },
      createdAt: now,
      freshUntil: now + 3.6e6,
      staleUntil: now + 3.6e6,
      tags: [],
      size: 20,
    })
  }
  let i = 0
  const hits = await measure([
    { name: 'lru-cache get', fn: () => lru.get(keys[i++ & 511]) },
    { name: 'memoryStore get', fn: () => store.get(keys[i++ & 511]) },
  ])
  process.stdout.write(`${JSON.stringify(hits)}\n`)
  process.exit(0)
}
const pair = (m) => {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), m], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(r.stderr)
  return JSON.parse(r.stdout.trim().split('\n').at(-1))
}
const bytes = pair('bytes')
report(
  'store-memory get hit vs raw lru-cache get, both bounded by bytes (maxSize / maxBytes 64 MiB)',
  bytes,
  'lru-cache get',
)
const entries = pair('entries')
report(
  'store-memory get hit vs raw lru-cache get, both bounded by count (max / maxEntries 10,000)',
  entries,
  'lru-cache get',
)
const t1 = target(
  'memoryStore vs lru-cache, bounded by bytes',
  bytes['lru-cache get'] / bytes['memoryStore get'],
  0.8,
)
const t1b = target(
  'memoryStore vs lru-cache, bounded by count',
  entries['lru-cache get'] / entries['memoryStore get'],
  0.8,
)
const hits = { bytes, entries }

const doc = {
  id: 12345,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  active: true,
  score: 98.5,
  roles: ['admin', 'editor', 'viewer'],
  address: { street: '12 Analytical Engine Way', city: 'London', zip: 'NW1 6XE', country: 'UK' },
  preferences: { theme: 'dark', language: 'en-GB', notifications: { email: true, sms: false, push: true } },
  history: Array.from({ length: 8 }, (_, j) => ({
    at: 1_700_000_000_000 + j * 1000,
    action: `login-${j}`,
    ok: j % 3 !== 0,
  })),
  bio: 'Mathematician and writer, known for her work on the proposed mechanical general-purpose computer.',
}
const size = JSON.stringify(doc).length
const ser = await measure([
  { name: 'JSON.stringify + JSON.parse', fn: () => JSON.parse(JSON.stringify(doc)) },
  {
    name: 'defaultSerializer encode + decode',
    fn: () => defaultSerializer.deserialize(defaultSerializer.serialize(doc)),
  },
])
report(`serializer round trip on a ${size}-byte object`, ser, 'JSON.stringify + JSON.parse')
const t2 = target(
  'defaultSerializer vs JSON (within 2x means ≥ 0.5x)',
  ser['JSON.stringify + JSON.parse'] / ser['defaultSerializer encode + decode'],
  0.5,
)

save('memory', { hits, serializer: { bytes: size, results: ser }, targets: [t1, t1b, t2] })
