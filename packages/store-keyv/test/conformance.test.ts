import KeyvRedis from '@keyv/redis'
import { runStoreSuite } from '@tiercache/store-test-suite'
import Keyv from 'keyv'
import { afterAll, describe, expect, test } from 'vitest'
import { keyvStore } from '../src/index.js'
import { dropRedisNamespaces, REDIS_URL, redisAdapter, redisNamespace, unlistableAdapter } from './helpers.js'

afterAll(dropRedisNamespaces)

const scanInProcess = {
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  close: true,
}

describe('in-process adapters', () => {
  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(new Map()),
    capabilities: scanInProcess,
    ttlGranularity: 20,
    name: 'a Map',
  })

  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(new Keyv(), { maxEntryBytes: 256 * 1024 }),
    capabilities: scanInProcess,
    ttlGranularity: 20,
    name: "Keyv's default in-memory Map, with maxEntryBytes",
  })

  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(new Map(), { clearMode: 'generations', prefix: '' }),
    capabilities: { getMany: true, setMany: true, deleteMany: true, close: true },
    ttlGranularity: 20,
    name: 'a Map in generations mode, empty prefix',
  })
})

describe('adapters that cannot list their keys (generations mode)', () => {
  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(unlistableAdapter(true)),
    capabilities: { getMany: true, setMany: true, deleteMany: true, close: true },
    ttlGranularity: 20,
    name: 'with getMany, setMany and deleteMany',
  })

  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(unlistableAdapter(false)),
    capabilities: { close: true },
    ttlGranularity: 20,
    name: 'with single-key methods only',
  })
})

describe('@keyv/redis on a real Redis server', () => {
  const redisCapabilities = { getMany: true, setMany: true, deleteMany: true, close: true }

  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(redisAdapter(), { owned: true }),
    capabilities: { ...redisCapabilities, deleteByPattern: true },
    ttlGranularity: 50,
    name: 'scan mode',
  })

  runStoreSuite({
    describe,
    test,
    expect,
    create: () => keyvStore(redisAdapter(), { owned: true, clearMode: 'generations' }),
    capabilities: redisCapabilities,
    ttlGranularity: 50,
    name: 'generations mode',
  })

  runStoreSuite({
    describe,
    test,
    expect,
    // Keyv gives its namespace to the adapter, which prefixes its Redis keys with it.
    create: () =>
      keyvStore(new Keyv({ store: new KeyvRedis(REDIS_URL), namespace: redisNamespace() }), { owned: true }),
    capabilities: { ...redisCapabilities, deleteByPattern: true },
    ttlGranularity: 50,
    name: 'a Keyv instance on @keyv/redis',
  })
})
