import { createCache, defaultSerializer, isTierCacheError } from '@tiercache/core'
import type { BusMessage } from '@tiercache/core/store'
import { memoryStore } from '@tiercache/store-memory'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisCluster, startRedisCluster } from '@tiercache/test-servers'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisBus, redisLock, redisStore } from '../src/index.js'
import { keySlot } from '../src/slot.js'
import { onCluster } from './examples/connections.js'
import { entry, FORBIDDEN_COMMANDS, keysPerNode } from './helpers.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, args: FORBIDDEN_COMMANDS })
})
afterAll(() => cluster?.stop())

const clusterStore = (prefix = uniquePrefix('cl')) => onCluster([...cluster.startupNodes], prefix)

runStoreSuite({
  describe,
  test,
  expect,
  create: () => clusterStore(),
  capabilities: {
    getMany: true,
    setMany: true,
    deleteMany: true,
    deleteByPattern: true,
    has: true,
    stats: true,
    close: true,
    conditionalSet: true,
  },
  ttlGranularity: 50,
  name: 'redisStore conformance (3-master Cluster)',
})

describe('redisStore on a Cluster', () => {
  test('computes the same hash slots as Redis', async () => {
    for (const key of ['a', 'user:1', '{user}:1', 'foo{}{bar}', 'foo{{bar}}zap', 'ünï🌍', '']) {
      const reply = await cluster.nodes[0]!.command('CLUSTER', 'KEYSLOT', key)
      expect(keySlot(key), key).toBe(reply)
    }
  })

  test('getMany / setMany / deleteMany over keys in many slots on every master (no CROSSSLOT)', async () => {
    const prefix = uniquePrefix('slots')
    const store = clusterStore(prefix)
    try {
      const keys = Array.from({ length: 300 }, (_, i) => `ns:item:${i}`)
      const slots = new Set(keys.map((k) => keySlot(prefix + k)))
      expect(slots.size).toBeGreaterThan(200)
      await store.setMany(keys.map((k, i) => [k, entry({ i })] as const))
      const perNode = await keysPerNode(cluster, prefix)
      for (const n of perNode) expect(n).toBeGreaterThan(50)
      const got = await store.getMany([...keys, 'ns:missing'])
      expect(got).toHaveLength(301)
      for (const [i, e] of got.slice(0, 300).entries()) {
        expect(defaultSerializer.deserialize(e!.value)).toEqual({ i })
      }
      expect(got[300]).toBeUndefined()
      expect(await store.deleteMany(keys.slice(0, 150))).toBe(150)
      const after = await store.getMany(keys)
      expect(after.filter(Boolean)).toHaveLength(150)
    } finally {
      await store.close()
    }
  })

  test('deleteByPattern and clear reach every master', async () => {
    const prefix = uniquePrefix('scan')
    const store = clusterStore(prefix)
    try {
      const users = Array.from({ length: 120 }, (_, i) => `app:user:${i}`)
      const others = Array.from({ length: 60 }, (_, i) => `app:order:${i}`)
      const neighbours = Array.from({ length: 30 }, (_, i) => `app2:user:${i}`)
      await store.setMany([...users, ...others, ...neighbours].map((k) => [k, entry(k)] as const))
      expect(await keysPerNode(cluster, `${prefix}app:user:`)).toSatisfy((n: number[]) =>
        n.every((x) => x > 0),
      )

      expect(await store.deleteByPattern('app:user:*')).toBe(120)
      expect(await keysPerNode(cluster, `${prefix}app:user:`)).toEqual([0, 0, 0])

      await store.clear('app')
      expect(await keysPerNode(cluster, `${prefix}app:`)).toEqual([0, 0, 0])
      const left = await keysPerNode(cluster, `${prefix}app2:`)
      expect(left.reduce((a, b) => a + b, 0)).toBe(30)

      await store.clear('')
      expect(await keysPerNode(cluster, prefix)).toEqual([0, 0, 0])
    } finally {
      await store.close()
    }
  })

  test('stats sums used_memory over the masters', async () => {
    const store = clusterStore()
    try {
      await store.set('x:1', entry(1))
      const stats = await store.stats()
      expect(stats.connected).toBe(true)
      expect(stats.usedMemory).toBeGreaterThan(3 * 500_000)
    } finally {
      await store.close()
    }
  })

  test('accepts an existing Cluster client and leaves it open', async () => {
    const client = new Cluster([...cluster.startupNodes], { enableAutoPipelining: true })
    try {
      const store = redisStore({ client, prefix: uniquePrefix('handed') })
      await store.setMany([
        ['a:1', entry(1)],
        ['b:2', entry(2)],
      ])
      expect((await store.getMany(['a:1', 'b:2'])).filter(Boolean)).toHaveLength(2)
      await store.close()
      expect(client.status).toBe('ready')
      expect(await client.ping()).toBe('PONG')
    } finally {
      client.disconnect()
    }
  })
})

describe('redisBus and redisLock on a Cluster', () => {
  test('pub/sub across nodes: a message published by one instance reaches the other', async () => {
    const prefix = uniquePrefix('clbus')
    const nodes = [...cluster.startupNodes]
    const a = redisBus({ cluster: { nodes: [nodes[0]!] }, prefix })
    const b = redisBus({ cluster: { nodes: [nodes[2]!] }, prefix })
    const got: BusMessage[] = []
    try {
      await Promise.all([
        a.subscribe({ message: () => {}, reconnected: () => {} }),
        b.subscribe({ message: (m) => got.push(m), reconnected: () => {} }),
      ])
      await a.publish({ instanceId: 'a', namespace: 'app', type: 'delete', keys: ['k'] })
      await waitFor(() => got.length === 1, 3000, 'the message')
      expect(got[0]).toMatchObject({ instanceId: 'a', keys: ['k'] })
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('stream bus: the stream lives in the slot of its hash tag; replays after the subscriber reconnects', async () => {
    const prefix = uniquePrefix('clstream')
    const nodes = [...cluster.startupNodes]
    const a = redisBus({ mode: 'stream', cluster: { nodes: [nodes[0]!] }, prefix })
    const b = redisBus({ mode: 'stream', cluster: { nodes: [nodes[2]!] }, prefix, pollInterval: 100 })
    const got: BusMessage[] = []
    let gaps = 0
    try {
      await Promise.all([
        a.subscribe({ message: () => {}, reconnected: () => {} }),
        b.subscribe({ message: (m) => got.push(m), reconnected: () => gaps++ }),
      ])
      await a.publish({ instanceId: 'a', namespace: 'app', type: 'delete', keys: ['k0'] })
      await waitFor(() => got.length === 1, 3000, 'the first message')
      const slot = keySlot(a.stream)
      const owner = cluster.nodes[cluster.slots.findIndex(([lo, hi]) => slot >= lo && slot <= hi)]!
      expect(Number(await owner.command('XLEN', a.stream))).toBe(1)
      // Drop every subscriber connection: whatever is appended meanwhile is read back from the
      // stream.
      await Promise.all(cluster.nodes.map((n) => n.command('CLIENT', 'KILL', 'TYPE', 'pubsub')))
      for (let i = 1; i <= 20; i++) {
        await a.publish({ instanceId: 'a', namespace: 'app', type: 'delete', keys: [`k${i}`] })
      }
      await waitFor(() => got.length === 21, 5000, 'all messages')
      expect(got.map((m) => m.keys?.[0])).toEqual(Array.from({ length: 21 }, (_, i) => `k${i}`))
      expect(gaps).toBe(0)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  test('locks work on a Cluster', async () => {
    const prefix = uniquePrefix('cllock')
    const a = redisLock({ cluster: { nodes: [...cluster.startupNodes] }, prefix })
    const b = redisLock({ cluster: { nodes: [...cluster.startupNodes] }, prefix })
    try {
      const held = await a.acquire('k', { ttl: 5000, wait: 0 })
      expect(held).toBeDefined()
      expect(await b.acquire('k', { ttl: 5000, wait: 0 })).toBeUndefined()
      await held!.release()
      expect(await b.acquire('k', { ttl: 5000, wait: 0 })).toBeDefined()
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})

describe('the engine on a Cluster', () => {
  test('getMany/setMany across slots, pattern delete and clear on every master', async () => {
    const prefix = uniquePrefix('clengine')
    const nodes = { cluster: { nodes: [...cluster.startupNodes] }, prefix }
    const cache = createCache({
      namespace: 'app',
      tiers: [memoryStore({ maxBytes: 2 ** 20 }), redisStore(nodes)],
      bus: redisBus(nodes),
      ttl: '1h',
    })
    try {
      const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`)
      await cache.setMany(keys.map((key, i) => ({ key, value: { i } })))
      await cache.set('order:1', 'o')
      const perNode = await keysPerNode(cluster, `${prefix}app:user:`)
      expect(perNode.every((n) => n > 30)).toBe(true)
      cache.flushLocal()
      const values = await cache.getMany(keys)
      expect(values).toEqual(keys.map((_, i) => ({ i })))
      expect(await cache.deleteByPattern('user:1*')).toBe(1 + 10 + 100)
      expect(await keysPerNode(cluster, `${prefix}app:user:1`)).toEqual([0, 0, 0])
      await cache.clear()
      expect(await keysPerNode(cluster, `${prefix}app:`)).toEqual([0, 0, 0])
    } finally {
      await cache.close()
    }
  })
})

// Runs last in this file: it kills a master.
describe('a Cluster master goes down', () => {
  test('keys on it fail within the command timeout with a typed error; others work; it comes back', async () => {
    const prefix = uniquePrefix('clfault')
    const store = redisStore({ cluster: { nodes: [...cluster.startupNodes] }, prefix, commandTimeout: 300 })
    const onNode = (n: number): string => {
      const [first, last] = cluster.slots[n]!
      for (let i = 0; ; i++) {
        const slot = keySlot(`${prefix}ns:${i}`)
        if (slot >= first && slot <= last) return `ns:${i}`
      }
    }
    const [k0, k1] = [onNode(0), onNode(1)]
    try {
      await store.setMany([
        [k0, entry(0)],
        [k1, entry(1)],
      ])
      await cluster.nodes[1]!.kill()
      const started = Date.now()
      const error = await store.get(k1).catch((e: unknown) => e)
      expect(isTierCacheError(error), String(error)).toBe(true)
      expect((error as Error).message).toMatch(/Redis is not reachable|Connection is closed|timed out/)
      expect(Date.now() - started).toBeLessThan(300 + 200)
      expect(defaultSerializer.deserialize((await store.get(k0))!.value)).toBe(0)

      await cluster.nodes[1]!.restart()
      await waitFor(
        async () => {
          try {
            await store.set(k1, entry('back'))
            return true
          } catch {
            return false
          }
        },
        10_000,
        'the node to serve again',
      )
      expect(defaultSerializer.deserialize((await store.get(k1))!.value)).toBe('back')
    } finally {
      await store.close()
    }
  })
})

describe('a Cluster master with the bus subscription goes down', () => {
  test('the subscription moves to another master and the bus asks for an L1 flush', async () => {
    const prefix = uniquePrefix('clbusfail')
    const nodes = [...cluster.startupNodes]
    const publisher = redisBus({ cluster: { nodes }, prefix, commandTimeout: 300, retryDelay: 20 })
    const subscriber = redisBus({ cluster: { nodes }, prefix, commandTimeout: 300, retryDelay: 20 })
    const got: BusMessage[] = []
    let reconnects = 0
    try {
      await publisher.subscribe({ message: () => {}, reconnected: () => {} })
      await subscriber.subscribe({
        message: (m) => got.push(m),
        reconnected: () => {
          reconnects++
        },
      })
      await waitFor(() => subscriber.stats().connected, 3000, 'the subscription')
      const victim = cluster.nodes.find((n) => `${n.host}:${n.port}` === subscriber.subscriberNode)!
      expect(victim).toBeDefined()
      await victim.kill()
      await waitFor(() => reconnects === 1, 10_000, 'reconnected() after the move')
      expect(subscriber.subscriberNode).not.toBe(`${victim.host}:${victim.port}`)
      await publisher.publish({ instanceId: 'p', namespace: 'app', type: 'delete', keys: ['after'] })
      await waitFor(() => got.some((m) => m.keys?.[0] === 'after'), 5000, 'a message after the move')
      await victim.restart()
    } finally {
      await Promise.all([publisher.close(), subscriber.close()])
    }
  })
})
