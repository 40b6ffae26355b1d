import { redisStore } from '@tiercache/store-redis'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { withBreaker } from '../src/index.js'
import { asyncStore, memory } from './helpers.js'

const ALL = {
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
}

// The wrapper keeps the contract of a synchronous memory store...
runStoreSuite({
  describe,
  test,
  expect,
  create: () => withBreaker(memory()),
  capabilities: ALL,
  ttlGranularity: 20,
  name: 'withBreaker(memoryStore) conformance',
})

// ...and of an asynchronous remote store, where every call goes through the timeout guard.
runStoreSuite({
  describe,
  test,
  expect,
  create: () => withBreaker(asyncStore(memory()), { timeout: '2s' }),
  capabilities: ALL,
  ttlGranularity: 20,
  name: 'withBreaker(remote store) conformance',
})

// ...and of a real Redis store, where timeouts and the journal sit in front of the network.
let server: RedisServer | undefined
let stores = 0
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server?.stop()
})
runStoreSuite({
  describe,
  test,
  expect,
  create: () =>
    withBreaker(redisStore({ url: (server as RedisServer).url, prefix: `conf${stores++}:` }), {
      timeout: '2s',
    }),
  ttlGranularity: 100,
  name: 'withBreaker(redisStore) conformance',
})
