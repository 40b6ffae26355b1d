import { defaultSerializer } from '@tiercache/core'
import type { BusMessage, RemoteEntry, Store } from '@tiercache/core/store'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisSentinel, type RedisServer, startRedis, startRedisSentinel } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisBus, redisStore } from '../src/index.js'
import { viaSentinel } from './examples/connections.js'

let plain: RedisServer
let secured: RedisServer
let sentinel: RedisSentinel
let securedSentinel: RedisSentinel
beforeAll(async () => {
  ;[plain, secured] = await Promise.all([
    startRedis(),
    startRedis({ acl: { username: 'app', password: 'pw' } }),
  ])
  ;[sentinel, securedSentinel] = await Promise.all([
    startRedisSentinel({ master: plain }),
    startRedisSentinel({ master: secured, name: 'secured' }),
  ])
})
afterAll(async () => {
  await Promise.all([sentinel?.stop(), securedSentinel?.stop()])
  await Promise.all([plain?.stop(), secured?.stop()])
})

async function roundTrip(store: Store<Uint8Array> & { close(): Promise<void> }): Promise<void> {
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
    await store.clear('')
  } finally {
    await store.close()
  }
}

describe('Sentinel', () => {
  test('finds the master through Sentinel and uses it', async () => {
    await roundTrip(viaSentinel([...sentinel.sentinels], sentinel.name, uniquePrefix('sentinel')))
  })

  test('with ACL credentials and a db index for the master', async () => {
    const store = redisStore({
      sentinel: { sentinels: [...securedSentinel.sentinels], name: securedSentinel.name },
      username: 'app',
      password: 'pw',
      db: 1,
      prefix: uniquePrefix('sentinel'),
    })
    const now = Date.now()
    await store.set('ns:k', {
      value: defaultSerializer.serialize(1),
      createdAt: now,
      freshUntil: now + 10_000,
      staleUntil: now + 10_000,
      tags: [],
    })
    expect(String(await secured.command('INFO', 'keyspace'))).toMatch(/db1:keys=1/)
    await roundTrip(store)
  })

  test('the stream bus finds the master through Sentinel', async () => {
    const prefix = uniquePrefix('sentinel-stream')
    const options = { sentinel: { sentinels: [...sentinel.sentinels], name: sentinel.name }, prefix }
    const a = redisBus({ mode: 'stream', ...options })
    const b = redisBus({ mode: 'stream', ...options })
    const got: BusMessage[] = []
    try {
      await Promise.all([
        a.subscribe({ message: () => {}, reconnected: () => {} }),
        b.subscribe({ message: (m) => got.push(m), reconnected: () => {} }),
      ])
      await a.publish({ instanceId: 'a', namespace: 'app', type: 'delete', keys: ['k'] })
      await waitFor(() => got.length === 1, 3000, 'the message')
      expect(Number(await plain.command('XLEN', a.stream))).toBe(1)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})
