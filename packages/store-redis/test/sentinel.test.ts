import { defaultSerializer, type RemoteEntry } from '@tiercache/core'
import { type RedisSentinel, type RedisServer, startRedis, startRedisSentinel } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisStore } from '../src/index.js'
import { uniquePrefix } from './helpers.js'

let master: RedisServer
let sentinel: RedisSentinel
beforeAll(async () => {
  master = await startRedis({ acl: { username: 'app', password: 'pw' } })
  sentinel = await startRedisSentinel({ master })
})
afterAll(async () => {
  await sentinel?.stop()
  await master?.stop()
})

describe('Sentinel', () => {
  test('finds the master through Sentinel and uses it (with ACL credentials and a db index)', async () => {
    const prefix = uniquePrefix('sentinel')
    const store = redisStore({
      sentinel: { sentinels: [...sentinel.sentinels], name: sentinel.name },
      username: 'app',
      password: 'pw',
      db: 1,
      prefix,
    })
    try {
      const now = Date.now()
      const entry: RemoteEntry = {
        value: defaultSerializer.serialize('via sentinel'),
        createdAt: now,
        freshUntil: now + 10_000,
        staleUntil: now + 10_000,
        tags: [],
      }
      await store.set('ns:k', entry)
      expect(defaultSerializer.deserialize((await store.get('ns:k'))!.value)).toBe('via sentinel')
      expect(String(await master.command('INFO', 'keyspace'))).toMatch(/db1:keys=1/)
    } finally {
      await store.close()
    }
  })
})
