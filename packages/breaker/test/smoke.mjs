// Runs in a fresh folder where only @tiercache/breaker and its peer @tiercache/core are installed.

import { CircuitOpenError, withBreaker } from '@tiercache/breaker'
import { isTierCacheError, StoreError } from '@tiercache/core'

const map = new Map()
let down = false
const check = () => {
  if (down) throw new StoreError('backend down', { store: 'map', operation: 'call' })
}
const store = {
  name: 'map',
  kind: 'remote',
  capabilities: {},
  get: async (k) => {
    check()
    return map.get(k)
  },
  set: async (k, e) => {
    check()
    map.set(k, e)
  },
  delete: async (k) => {
    check()
    return map.delete(k)
  },
  clear: async () => {
    check()
    map.clear()
  },
}
const now = Date.now()
const entry = {
  value: new Uint8Array([1]),
  createdAt: now,
  freshUntil: now + 60_000,
  staleUntil: now + 60_000,
  tags: [],
}

const l2 = withBreaker(store, { failureThreshold: 2, resetTimeout: 50, timeout: 1000 })
const states = []
l2.on('state:change', (e) => states.push(e.to))
await l2.set('app:a', entry)
down = true
for (let i = 0; i < 2; i++) await l2.get('app:a').catch(() => {})
if (l2.state !== 'open') throw new Error(`expected open, got ${l2.state}`)
try {
  await l2.delete('app:a')
  throw new Error('delete while open did not fail fast')
} catch (e) {
  if (!(e instanceof CircuitOpenError) || !isTierCacheError(e, 'E_CIRCUIT_OPEN')) throw e
}
down = false
await new Promise((resolve) => setTimeout(resolve, 150))
if (l2.state !== 'closed') throw new Error(`expected closed after the replay, got ${l2.state}`)
if (map.has('app:a')) throw new Error('the delete made while open was not replayed')
if (states.join(',') !== 'open,half-open,closed') throw new Error(`unexpected states ${states}`)
console.log('smoke ok')
