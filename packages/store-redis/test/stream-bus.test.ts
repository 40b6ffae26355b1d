import { createCache, InvalidOptionError } from '@tiercache/core'
import type { BusHandlers, BusMessage } from '@tiercache/core/store'
import { memoryStore } from '@tiercache/store-memory'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startProxy, startRedis, type TcpProxy } from '@tiercache/test-servers'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { encodeBusMessage, RedisBus, RedisStreamBus, redisBus, redisStore, streamKey } from '../src/index.js'

let server: RedisServer
let proxy: TcpProxy
beforeAll(async () => {
  // Small stream nodes so that MAXLEN ~ trims at small sizes in the retention test.
  server = await startRedis({ args: ['--stream-node-max-entries', '10'] })
  proxy = await startProxy({ target: { port: server.port } })
})
afterAll(async () => {
  await proxy?.close()
  await server?.stop()
})

interface Recorder extends BusHandlers {
  readonly messages: BusMessage[]
  gaps: number
  disconnects: number
}

function recorder(): Recorder {
  const r: Recorder = {
    messages: [],
    gaps: 0,
    disconnects: 0,
    message: (m) => r.messages.push(m),
    reconnected: () => {
      r.gaps++
    },
    disconnected: () => {
      r.disconnects++
    },
  }
  return r
}

const del = (instanceId: string, key: string): BusMessage => ({
  instanceId,
  namespace: 'app',
  type: 'delete',
  keys: [key],
})

const keysOf = (r: Recorder): string[] => r.messages.map((m) => m.keys?.[0] ?? '')

describe('redisBus({ mode: "stream" })', () => {
  test('options: the stream key is a hash tag of the prefix; bad options are refused', async () => {
    expect(streamKey('tc:')).toBe('{tc:bus}')
    expect(() => redisBus({ mode: 'stream', url: server.url, retention: { maxLen: 0 } })).toThrow(
      InvalidOptionError,
    )
    expect(() => redisBus({ mode: 'nope' } as never)).toThrow(InvalidOptionError)
    expect(() => redisBus({ mode: 'stream', url: server.url, prefix: 'a{b' })).toThrow(InvalidOptionError)
    const bus = redisBus({ mode: 'stream', url: server.url, prefix: 'p:' })
    expect(bus).toBeInstanceOf(RedisStreamBus)
    expect(bus.stream).toBe('{p:bus}')
    await bus.close()
    const plain = redisBus({ url: server.url })
    expect(plain).toBeInstanceOf(RedisBus)
    await plain.close()
  })

  test('delivers in publish order, skips own messages, keeps a bounded stream', async () => {
    const prefix = uniquePrefix('order')
    const a = redisBus({ mode: 'stream', url: server.url, prefix, retention: { maxLen: 50 } })
    const b = redisBus({ mode: 'stream', url: server.url, prefix, retention: { maxLen: 50 } })
    const ra = recorder()
    const rb = recorder()
    await Promise.all([a.subscribe(ra), b.subscribe(rb)])
    const sent: string[] = []
    for (let i = 0; i < 200; i++) {
      sent.push(`k${i}`)
      void a.publish(del('A', `k${i}`))
      if (i % 10 === 0) await b.publish(del('B', `b${i}`))
    }
    await waitFor(() => rb.messages.length === 200, 10_000, 'all messages at b')
    expect(keysOf(rb)).toEqual(sent)
    await waitFor(() => ra.messages.length === 20, 10_000, 'b messages at a')
    expect(ra.messages.every((m) => m.instanceId === 'B')).toBe(true)
    expect(rb.messages.every((m) => m.instanceId === 'A')).toBe(true)
    expect(rb.gaps + ra.gaps).toBe(0)
    const len = Number(await server.command('XLEN', a.stream))
    expect(len).toBeGreaterThanOrEqual(50)
    expect(len).toBeLessThan(100)
    await Promise.all([a.close(), b.close()])
  })

  test('after a disconnect it replays what it missed instead of signalling a gap', async () => {
    const prefix = uniquePrefix('replay')
    const writer = redisBus({ mode: 'stream', url: server.url, prefix })
    const reader = redisBus({ mode: 'stream', url: proxy.url, prefix, pollInterval: 200 })
    const r = recorder()
    await Promise.all([writer.subscribe(recorder()), reader.subscribe(r)])
    await writer.publish(del('W', 'before'))
    await waitFor(() => r.messages.length === 1, 5000, 'first message')
    proxy.cutLink()
    await waitFor(() => !reader.stats().connected, 5000, 'reader disconnected')
    const missed: string[] = []
    for (let i = 0; i < 30; i++) {
      missed.push(`during${i}`)
      await writer.publish(del('W', `during${i}`))
    }
    proxy.heal()
    await waitFor(() => r.messages.length === 31, 10_000, 'replayed messages')
    await writer.publish(del('W', 'after'))
    await waitFor(() => r.messages.length === 32, 5000, 'live message after replay')
    expect(keysOf(r)).toEqual(['before', ...missed, 'after'])
    expect(r.gaps).toBe(0)
    expect(r.disconnects).toBe(1)
    await Promise.all([writer.close(), reader.close()])
  })

  test('an entry nobody announced is found by the poll, in order with what follows', async () => {
    const prefix = uniquePrefix('poll')
    const writer = redisBus({ mode: 'stream', url: server.url, prefix })
    const reader = redisBus({ mode: 'stream', url: server.url, prefix, pollInterval: 100 })
    const r = recorder()
    await Promise.all([writer.subscribe(recorder()), reader.subscribe(r)])
    // Appended without its announcement (as if the announcement were lost).
    await server.command('XADD', writer.stream, '*', 'm', encodeBusMessage(del('W', 'silent')))
    await waitFor(() => r.messages.length === 1, 5000, 'the unannounced entry')
    await writer.publish(del('W', 'announced'))
    await waitFor(() => r.messages.length === 2, 5000, 'the next entry')
    expect(keysOf(r)).toEqual(['silent', 'announced'])
    expect(r.gaps).toBe(0)
    await Promise.all([writer.close(), reader.close()])
  })

  test('signals a gap only when its last id fell out of retention', async () => {
    const prefix = uniquePrefix('gap')
    const writer = redisBus({ mode: 'stream', url: server.url, prefix, retention: { maxLen: 20 } })
    const reader = redisBus({ mode: 'stream', url: proxy.url, prefix, retention: { maxLen: 20 } })
    const r = recorder()
    await Promise.all([writer.subscribe(recorder()), reader.subscribe(r)])
    await writer.publish(del('W', 'seen'))
    await waitFor(() => r.messages.length === 1, 5000, 'first message')
    proxy.cutLink()
    await waitFor(() => !reader.stats().connected, 5000, 'reader disconnected')
    for (let i = 0; i < 100; i++) await writer.publish(del('W', `lost${i}`))
    const first = (await server.command('XRANGE', writer.stream, '-', '+', 'COUNT', '1')) as [string][]
    expect(first[0]?.[0]).not.toBe(reader.position) // the reader's place was trimmed
    proxy.heal()
    await waitFor(() => r.gaps === 1, 10_000, 'gap signalled')
    await writer.publish(del('W', 'after'))
    await waitFor(() => keysOf(r).includes('after'), 5000, 'live message after the gap')
    // Nothing from the trimmed range is replayed out of order; the next message still arrives.
    expect(keysOf(r)[0]).toBe('seen')
    expect(r.gaps).toBe(1)
    await Promise.all([writer.close(), reader.close()])
  })

  test('a Redis restart that loses the stream is a gap', async () => {
    const own = await startRedis()
    try {
      const prefix = uniquePrefix('reset')
      const writer = redisBus({ mode: 'stream', url: own.url, prefix })
      const reader = redisBus({ mode: 'stream', url: own.url, prefix, pollInterval: 100 })
      const r = recorder()
      await Promise.all([writer.subscribe(recorder()), reader.subscribe(r)])
      await writer.publish(del('W', 'one'))
      await waitFor(() => r.messages.length === 1, 5000, 'first message')
      await own.kill()
      await own.restart()
      await waitFor(() => r.gaps === 1, 10_000, 'gap after reset')
      await waitFor(() => writer.client.status === 'ready', 10_000, 'writer back')
      await writer.publish(del('W', 'two'))
      await waitFor(() => r.messages.length === 2, 10_000, 'message after the reset')
      await Promise.all([writer.close(), reader.close()])
    } finally {
      await own.stop()
    }
  })

  test('a bus disconnect shorter than retention keeps L1: hit ratio after reconnect within 2 points', async () => {
    const run = async (mode: 'stream' | 'pubsub'): Promise<{ before: number; after: number }> => {
      const prefix = uniquePrefix(`hit-${mode}`)
      const busOptions =
        mode === 'stream'
          ? ({ mode: 'stream', url: proxy.url, prefix, pollInterval: 200 } as const)
          : ({ url: proxy.url, prefix, retryDelay: 50 } as const)
      const readerBus: RedisBus | RedisStreamBus = redisBus(busOptions as never)
      const reader = createCache({
        namespace: 'hits',
        tiers: [memoryStore(), redisStore({ url: server.url, prefix })],
        bus: readerBus,
      })
      const writer = createCache({
        namespace: 'hits',
        tiers: [memoryStore(), redisStore({ url: server.url, prefix })],
        bus:
          mode === 'stream'
            ? redisBus({ mode: 'stream', url: server.url, prefix })
            : redisBus({ url: server.url, prefix }),
      })
      const keys = Array.from({ length: 200 }, (_, i) => `k${i}`)
      for (const k of keys) await writer.set(k, { v: k }, { ttl: '1h' })
      const l1 = (): { hits: number; misses: number } => {
        const t = reader.getStats().tiers[0] as { hits: number; misses: number }
        return { hits: t.hits, misses: t.misses }
      }
      const ratio = async (): Promise<number> => {
        const s0 = l1()
        for (let round = 0; round < 5; round++) for (const k of keys) await reader.get(k)
        const s1 = l1()
        const hits = s1.hits - s0.hits
        return (100 * hits) / (hits + s1.misses - s0.misses)
      }
      await ratio() // warm L1
      const before = await ratio()
      const connected = (): boolean => readerBus.stats().connected
      proxy.cutLink()
      await waitFor(() => !connected(), 5000, 'bus disconnected')
      // One key changes while the reader is away: the replay must drop exactly that one.
      await writer.set('k0', { v: 'new' }, { ttl: '1h' })
      proxy.heal()
      await waitFor(connected, 10_000, 'bus back')
      await waitFor(async () => ((await reader.get<{ v: string }>('k0'))?.v ?? '') === 'new', 5000, 'k0')
      const after = await ratio()
      await Promise.all([reader.close(), writer.close()])
      return { before, after }
    }
    const stream = await run('stream')
    expect(stream.before).toBeGreaterThan(99)
    expect(Math.abs(stream.after - stream.before)).toBeLessThanOrEqual(2)
    // The same test over pub/sub shows what the stream avoids: a flushed L1.
    const pubsub = await run('pubsub')
    expect(pubsub.before - pubsub.after).toBeGreaterThan(2)
  })
})

test('works on a client handed in (no ownership taken)', async () => {
  const client = new Redis(server.url)
  const prefix = uniquePrefix('client')
  const a = redisBus({ mode: 'stream', client, prefix })
  const b = redisBus({ mode: 'stream', url: server.url, prefix })
  const rb = recorder()
  await Promise.all([a.subscribe(recorder()), b.subscribe(rb)])
  await a.publish(del('A', 'x'))
  await waitFor(() => rb.messages.length === 1, 5000, 'message')
  await Promise.all([a.close(), b.close()])
  expect(client.status).toBe('ready')
  client.disconnect()
})
