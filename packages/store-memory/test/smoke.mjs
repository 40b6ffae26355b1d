// Runs in a fresh folder where only @tiercache/store-memory and its peer @tiercache/core are installed.
import { memoryStore } from '@tiercache/store-memory'

const store = memoryStore({ maxBytes: 1024 * 1024 })
const now = Date.now()
store.set('ns:a', {
  value: { x: 1 },
  createdAt: now,
  freshUntil: now + 1000,
  staleUntil: now + 2000,
  tags: [],
  size: 8,
})
if (store.get('ns:a')?.value.x !== 1) throw new Error('memory store did not return the value')
store.clear('ns')
if (store.get('ns:a') !== undefined) throw new Error('clear failed')
console.log('smoke ok')
