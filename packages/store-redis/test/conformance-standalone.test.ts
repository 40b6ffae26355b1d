import { runStoreSuite } from '@tiercache/store-test-suite'
import { uniquePrefix } from '@tiercache/test-kit'
import { freePort, type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisStore } from '../src/index.js'
import { FORBIDDEN_COMMANDS } from './helpers.js'

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
  // A port nothing listens on: every call must reject with a StoreError, never read as a miss.
  failing: async () =>
    redisStore({
      url: `redis://127.0.0.1:${await freePort()}`,
      prefix: uniquePrefix('down'),
      commandTimeout: 500,
    }),
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
