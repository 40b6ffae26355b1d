import { runStoreSuite } from '@tiercache/store-test-suite'
import { describe, expect, test } from 'vitest'
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
