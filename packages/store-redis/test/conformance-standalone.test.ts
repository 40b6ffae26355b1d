import { runStoreSuite } from '@tiercache/store-test-suite'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisStore } from '../src/index.js'
import { FORBIDDEN_COMMANDS, uniquePrefix } from './helpers.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis({ args: FORBIDDEN_COMMANDS })
})
afterAll(() => server?.stop())

const capabilities = {
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
  conditionalSet: true,
}

runStoreSuite({
  describe,
  test,
  expect,
  create: () => redisStore({ url: server.url, prefix: uniquePrefix('std') }),
  capabilities,
  ttlGranularity: 50,
  name: 'redisStore conformance (standalone)',
})

runStoreSuite({
  describe,
  test,
  expect,
  create: () => redisStore({ url: server.url, prefix: uniquePrefix('max'), maxEntryBytes: 64 * 1024 }),
  capabilities,
  ttlGranularity: 50,
  name: 'redisStore conformance (standalone, maxEntryBytes)',
})
