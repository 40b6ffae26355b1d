// Runs in a fresh folder where only @tiercache/store-redis, @tiercache/core and ioredis are
// installed, against the Redis on 127.0.0.1:6379.
import { randomUUID } from 'node:crypto'
import { defaultSerializer } from '@tiercache/core'
import { redisBus, redisLock, redisStore } from '@tiercache/store-redis'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `tc-smoke:${randomUUID()}:`
const store = redisStore({ url, prefix })
const now = Date.now()
const entry = (value) => ({
  value: defaultSerializer.serialize(value),
  createdAt: now,
  freshUntil: now + 10_000,
  staleUntil: now + 10_000,
  tags: ['t'],
})

await store.set('app:a', entry({ x: 1 }))
await store.setMany([
  ['app:b', entry('b')],
  ['app:c', entry('c')],
])
const a = await store.get('app:a')
if (defaultSerializer.deserialize(a.value).x !== 1) throw new Error('get did not return the value')
const many = await store.getMany(['app:a', 'app:b', 'app:missing'])
if (many.length !== 3 || many[2] !== undefined) throw new Error('getMany is wrong')
if ((await store.deleteByPattern('app:b*')) !== 1) throw new Error('deleteByPattern is wrong')
await store.clear('app')
if (await store.has('app:a')) throw new Error('clear failed')

const received = []
const one = redisBus({ url, prefix })
const two = redisBus({ url, prefix })
await one.subscribe({ message: () => {}, reconnected: () => {} })
await two.subscribe({ message: (m) => received.push(m), reconnected: () => {} })
await one.publish({ instanceId: 'one', namespace: 'app', type: 'delete', keys: ['a'] })
for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 20))
if (received[0]?.keys?.[0] !== 'a') throw new Error('the bus did not deliver')

const lock = redisLock({ url, prefix })
const handle = await lock.acquire('app:k', { ttl: 5000, wait: 0 })
if (!handle || (await lock.acquire('app:k', { ttl: 5000, wait: 0 })) !== undefined)
  throw new Error('lock failed')
await handle.release()

await Promise.all([store.close(), one.close(), two.close(), lock.close()])
console.log('smoke ok')
