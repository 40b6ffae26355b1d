import { defaultSerializer, type RemoteEntry } from '@tiercache/core'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { type RedisCluster, startRedisCluster } from '@tiercache/test-servers'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisStore, redisStore } from '../src/index.js'
import { keySlot } from '../src/slot.js'
import { FORBIDDEN_COMMANDS, uniquePrefix } from './helpers.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, args: FORBIDDEN_COMMANDS })
})
afterAll(() => cluster?.stop())

const entry = (value: unknown, ttl = 60_000): RemoteEntry => {
  const now = Date.now()
  return {
    value: defaultSerializer.serialize(value),
    createdAt: now,
    freshUntil: now + ttl,
    staleUntil: now + ttl,
    tags: [],
  }
}

const clusterStore = (prefix = uniquePrefix('cl')): RedisStore =>
  redisStore({ cluster: { nodes: [...cluster.startupNodes] }, prefix })

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
  },
  ttlGranularity: 50,
  name: 'redisStore conformance (3-master Cluster)',
})

/** How many keys starting with `prefix` each master holds. */
async function keysPerNode(prefix: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      let cursor = '0'
      let n = 0
      do {
        const [next, keys] = (await node.command('SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [
          string,
          string[],
        ]
        cursor = next
        n += keys.length
      } while (cursor !== '0')
      return n
    }),
  )
}

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
      const perNode = await keysPerNode(prefix)
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
      expect(await keysPerNode(`${prefix}app:user:`)).toSatisfy((n: number[]) => n.every((x) => x > 0))

      expect(await store.deleteByPattern('app:user:*')).toBe(120)
      expect(await keysPerNode(`${prefix}app:user:`)).toEqual([0, 0, 0])

      await store.clear('app')
      expect(await keysPerNode(`${prefix}app:`)).toEqual([0, 0, 0])
      const left = await keysPerNode(`${prefix}app2:`)
      expect(left.reduce((a, b) => a + b, 0)).toBe(30)

      await store.clear('')
      expect(await keysPerNode(prefix)).toEqual([0, 0, 0])
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
