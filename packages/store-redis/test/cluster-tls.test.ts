/**
 * The 3-master Cluster with TLS only (clients and the cluster bus): the store, the bus and the
 * lock over it, with slots on every master.
 */
import { defaultSerializer } from '@tiercache/core'
import type { BusMessage } from '@tiercache/core/store'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisCluster, redisCommand, startRedisCluster } from '@tiercache/test-servers'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { onTlsCluster } from './examples/connections.js'
import { entry, FORBIDDEN_COMMANDS, keysPerNode } from './helpers.js'

let cluster: RedisCluster
beforeAll(async () => {
  cluster = await startRedisCluster({ masters: 3, tls: true, args: FORBIDDEN_COMMANDS })
})
afterAll(() => cluster?.stop())

test('store, bus and lock over a TLS-only 3-master Cluster', async () => {
  const ca = cluster.certificates!.ca
  const nodes = [...cluster.startupNodes]
  // Nothing answers in plain text: the nodes serve TLS only.
  await expect(redisCommand({ port: nodes[0]!.port, timeout: 500 }, 'PING')).rejects.toThrow()

  const prefix = uniquePrefix('cltls')
  const a = onTlsCluster([nodes[0]!], ca, prefix)
  const b = onTlsCluster([nodes[2]!], ca, prefix)
  const got: BusMessage[] = []
  try {
    // Keys over many slots land on every master and read back.
    const keys = Array.from({ length: 60 }, (_, i) => `app:user:${i}`)
    await a.store.setMany(keys.map((k, i) => [k, entry({ i })] as const))
    await a.store.set('app:order:1', entry('order'))
    expect((await keysPerNode(cluster, `${prefix}app:user:`)).every((n) => n > 0)).toBe(true)
    const read = await b.store.getMany(keys)
    expect(read.map((e) => defaultSerializer.deserialize(e!.value))).toEqual(keys.map((_, i) => ({ i })))

    // A pattern delete scans every master.
    expect(await b.store.deleteByPattern('app:user:*')).toBe(60)
    expect(await keysPerNode(cluster, `${prefix}app:user:`)).toEqual([0, 0, 0])
    expect(await a.store.has('app:order:1')).toBe(true)

    // The bus: b's subscriber connection (to one master, over TLS) gets a's message.
    await Promise.all([
      a.bus.subscribe({ message: () => {}, reconnected: () => {} }),
      b.bus.subscribe({ message: (m) => got.push(m), reconnected: () => {} }),
    ])
    expect(b.bus.stats().connected).toBe(true)
    await a.bus.publish({ instanceId: 'a', namespace: 'app', type: 'delete', keys: ['user:1'] })
    await waitFor(() => got.length === 1, 5000, 'the message over TLS')
    expect(got[0]).toMatchObject({ instanceId: 'a', type: 'delete', keys: ['user:1'] })

    // The lock: exclusive across the two clients, released by its holder.
    const held = await a.lock.acquire('report', { ttl: 5000, wait: 0 })
    expect(held).toBeDefined()
    expect(await b.lock.acquire('report', { ttl: 5000, wait: 0 })).toBeUndefined()
    await held!.release()
    const next = await b.lock.acquire('report', { ttl: 5000, wait: 0 })
    expect(next).toBeDefined()
    await next!.release()

    await a.store.clear('')
    expect(await keysPerNode(cluster, prefix)).toEqual([0, 0, 0])
  } finally {
    await Promise.all([
      a.store.close(),
      a.bus.close(),
      a.lock.close(),
      b.store.close(),
      b.bus.close(),
      b.lock.close(),
    ])
  }
})
