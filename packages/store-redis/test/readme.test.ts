import { join } from 'node:path'
import { defaultSerializer } from '@tiercache/core'
import { uniquePrefix } from '@tiercache/test-kit'
import { checkReadme } from '@tiercache/test-kit/readme'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, test, vi } from 'vitest'
import { sharedClient } from './examples/connections.js'
import { regionCache, relayFor } from './examples/regions.js'

const root = join(import.meta.dirname, '..')
let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(() => server?.stop())

test('the README shows the tested examples and names the package and its peers', () => {
  expect(checkReadme(root).length).toBeGreaterThan(1)
})

test('the quick start runs', async () => {
  process.env.REDIS_URL = server.url
  process.env.CACHE_PREFIX = uniquePrefix('readme')
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import('./examples/quick-start.js')
    expect(log.mock.calls).toEqual([[{ name: 'Ada' }], [{ rows: 42 }]])
    const keys = (await server.command(
      'SCAN',
      0,
      'MATCH',
      `${process.env.CACHE_PREFIX}*`,
      'COUNT',
      1000,
    )) as [string, string[]]
    expect(keys[1]).toEqual([])
  } finally {
    log.mockRestore()
    delete process.env.REDIS_URL
    delete process.env.CACHE_PREFIX
  }
})

test('a shared client serves the store, the bus and the lock, and stays open', async () => {
  const client = new Redis(server.url)
  const { store, bus, lock } = sharedClient(client, uniquePrefix('shared'))
  try {
    const now = Date.now()
    await store.set('ns:k', {
      value: defaultSerializer.serialize(1),
      createdAt: now,
      freshUntil: now + 1000,
      staleUntil: now + 1000,
      tags: [],
    })
    expect(await store.has('ns:k')).toBe(true)
    await bus.subscribe({ message: () => {}, reconnected: () => {} })
    const handle = await lock.acquire('ns:k', { ttl: 1000, wait: 0 })
    await handle!.release()
    await Promise.all([store.close(), bus.close(), lock.close()])
    expect(await client.ping()).toBe('PONG')
  } finally {
    client.disconnect()
  }
})

test('the regions example: a delete in one region reaches the other', async () => {
  const other = await startRedis()
  const prefix = uniquePrefix('regions')
  const eu = regionCache(server.url, prefix)
  const us = regionCache(other.url, prefix)
  const relays = [
    relayFor('eu', server.url, [{ region: 'us', url: other.url }], prefix),
    relayFor('us', other.url, [{ region: 'eu', url: server.url }], prefix),
  ]
  try {
    await Promise.all(relays.map((r) => r.ready))
    await eu.set('user:1', { name: 'Ada' })
    await us.delete('user:1')
    for (let i = 0; i < 500 && (await eu.get('user:1')) !== undefined; i++) {
      await new Promise((r) => setTimeout(r, 10))
    }
    expect(await eu.get('user:1')).toBeUndefined()
  } finally {
    await Promise.all([eu.close(), us.close(), ...relays.map((r) => r.close())])
    await other.stop()
  }
})
