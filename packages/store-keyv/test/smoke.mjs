// Runs in a fresh folder where only @tiercache/store-keyv, @tiercache/core and keyv are installed.
import { defaultSerializer, isTierCacheError } from '@tiercache/core'
import { NEVER } from '@tiercache/core/store'
import { keyvStore } from '@tiercache/store-keyv'
import Keyv from 'keyv'

const store = keyvStore(new Keyv(), { maxEntryBytes: 1024 })
const now = Date.now()
const entry = (value) => ({
  value: defaultSerializer.serialize(value),
  createdAt: now,
  freshUntil: now + 60_000,
  staleUntil: NEVER,
  tags: ['t'],
})
await store.set('app:a', entry({ hello: 'world' }))
await store.set('other:b', entry('b'))
const got = await store.get('app:a')
if (defaultSerializer.deserialize(got.value).hello !== 'world' || got.tags[0] !== 't') {
  throw new Error('round trip failed')
}
await store.clear('app')
if ((await store.get('app:a')) !== undefined) throw new Error('clear(namespace) failed')
if ((await store.get('other:b')) === undefined) throw new Error('clear(namespace) removed a neighbour')
if ((await store.deleteByPattern('other:*')) !== 1) throw new Error('deleteByPattern failed')
try {
  await store.set('app:big', { ...entry(null), value: new Uint8Array(2048) })
  throw new Error('an oversized entry was accepted')
} catch (error) {
  if (!isTierCacheError(error, 'E_VALUE_TOO_LARGE')) throw error
}
await store.close()
console.log('smoke ok')
