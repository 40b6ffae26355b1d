import type { BusHandlers, BusMessage } from '@tiercache/core/store'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { decodeBusMessage, encodeBusMessage, type RedisBus, redisBus } from '../src/index.js'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(() => server?.stop())

interface Recorder extends BusHandlers {
  readonly messages: BusMessage[]
  reconnects: number
  disconnects: number
}

function recorder(): Recorder {
  const r: Recorder = {
    messages: [],
    reconnects: 0,
    disconnects: 0,
    message: (m) => r.messages.push(m),
    reconnected: () => {
      r.reconnects++
    },
    disconnected: () => {
      r.disconnects++
    },
  }
  return r
}

const msg = (instanceId: string, extra: Partial<BusMessage> = {}): BusMessage => ({
  instanceId,
  namespace: 'app',
  type: 'delete',
  keys: ['users:1'],
  ...extra,
})

describe('message encoding', () => {
  test('compact JSON round trip of every message type, values never included', () => {
    const messages: BusMessage[] = [
      msg('a', { type: 'set', keys: ['k1', 'k:2'] }),
      msg('a', { type: 'delete', keys: ['x'] }),
      { instanceId: 'a', namespace: 'app', type: 'pattern', pattern: 'users:*' },
      { instanceId: 'a', namespace: 'app', type: 'tags', tags: ['t1', 't2'], at: 1_700_000_000_000 },
      { instanceId: 'a', namespace: 'app', type: 'clear', prefix: 'users' },
    ]
    for (const m of messages) {
      const text = encodeBusMessage(m)
      expect(text).not.toMatch(/\s/)
      expect(decodeBusMessage(text)).toEqual(m)
    }
    const withValue = encodeBusMessage({ ...msg('a'), value: 'secret' } as BusMessage)
    expect(withValue).not.toContain('secret')
  })

  test('malformed payloads decode to undefined', () => {
    for (const text of [
      '',
      'nope',
      '{}',
      '{"v":2,"i":"a","n":"b","t":"set"}',
      '{"v":1,"i":"a","n":"b","t":"drop"}',
    ]) {
      expect(decodeBusMessage(text)).toBeUndefined()
    }
  })
})

describe('redisBus', () => {
  test('delivers to other instances on the same prefix only, never to the sender', async () => {
    const prefix = uniquePrefix('bus')
    const [a, b, other] = [
      redisBus({ url: server.url, prefix }),
      redisBus({ url: server.url, prefix }),
      redisBus({ url: server.url, prefix: `${prefix}x` }),
    ]
    const [ra, rb, ro] = [recorder(), recorder(), recorder()]
    const raw = new Redis(server.url)
    const wire: string[] = []
    try {
      await Promise.all([a.subscribe(ra), b.subscribe(rb), other.subscribe(ro)])
      await raw.subscribe(a.channel)
      raw.on('message', (_c, text: string) => wire.push(text))
      expect(a.channel).toBe(`${prefix}__bus`)

      await a.publish(msg('instance-a', { type: 'set', keys: ['users:1'] }))
      await b.publish({ instanceId: 'instance-b', namespace: 'app', type: 'tags', tags: ['t'], at: 5 })
      await waitFor(() => rb.messages.length === 1 && ra.messages.length === 1 && wire.length === 2)
      expect(rb.messages[0]).toEqual(msg('instance-a', { type: 'set', keys: ['users:1'] }))
      expect(ra.messages[0]).toMatchObject({ instanceId: 'instance-b', type: 'tags', tags: ['t'], at: 5 })
      expect(ro.messages).toHaveLength(0)
      expect(JSON.parse(wire[0]!)).toEqual({ v: 1, i: 'instance-a', n: 'app', t: 'set', k: ['users:1'] })
      expect(a.stats()).toMatchObject({ sent: 1, received: 1, failed: 0, queued: 0, connected: true })
    } finally {
      raw.disconnect()
      await Promise.all([a.close(), b.close(), other.close()])
    }
  })

  test('publishes never reject; failures wait in a bounded queue and go out after an outage', async () => {
    const own = await startRedis()
    const prefix = uniquePrefix('bus')
    const a = redisBus({
      url: own.url,
      prefix,
      commandTimeout: 200,
      retryDelay: 20,
      maxRetryDelay: 100,
      maxQueue: 5,
    })
    try {
      await a.subscribe(recorder())
      await own.kill()
      await waitFor(() => !a.stats().connected, 3000, 'the bus to notice')
      for (let i = 0; i < 8; i++) await a.publish(msg('a', { keys: [`k${i}`] }))
      // k0-k3 were dropped; one clear of their namespace took a slot in their place.
      expect(a.stats()).toMatchObject({ queued: 5, failed: 4, sent: 0 })
      await own.restart()
      await waitFor(() => a.stats().queued === 0, 5000, 'the queue to drain')
      expect(a.stats()).toMatchObject({ sent: 5, failed: 4, queued: 0 })
    } finally {
      await a.close()
      await own.stop()
    }
  })

  test('a hung Redis: publishes time out, are retried, and reach subscribers once it answers', async () => {
    const own = await startRedis()
    const prefix = uniquePrefix('bus')
    const a = redisBus({ url: own.url, prefix, commandTimeout: 200, retryDelay: 50, maxRetryDelay: 100 })
    const b = redisBus({ url: own.url, prefix })
    const rb = recorder()
    try {
      await Promise.all([a.subscribe(recorder()), b.subscribe(rb)])
      own.pause()
      const started = Date.now()
      for (let i = 0; i < 3; i++) await a.publish(msg('a', { keys: [`k${i}`] }))
      expect(Date.now() - started).toBeLessThan(1000)
      expect(a.stats().queued).toBe(3)
      own.resume()
      await waitFor(() => a.stats().queued === 0, 5000, 'the queue to drain')
      // The subscription survived the pause; timed-out publishes may arrive twice (harmless).
      await waitFor(() => ['k0', 'k1', 'k2'].every((k) => rb.messages.some((m) => m.keys?.[0] === k)), 3000)
      expect(rb.reconnects).toBe(0)
    } finally {
      own.resume()
      await Promise.all([a.close(), b.close()])
      await own.stop()
    }
  })

  // Both buses publish through one retry queue: the rule holds for each.
  test.each(['pubsub', 'stream'] as const)(
    '%s: a message is dropped and counted after maxAttempts; a clear of its namespace goes out instead',
    async (mode) => {
      const own = await startRedis()
      const prefix = uniquePrefix('bus')
      const make = (o: {
        url: string
        prefix: string
        commandTimeout?: number
        retryDelay?: number
        maxRetryDelay?: number
        maxAttempts?: number
      }) => (mode === 'stream' ? redisBus({ ...o, mode: 'stream' }) : redisBus(o))
      const bus = make({
        url: own.url,
        prefix,
        commandTimeout: 100,
        retryDelay: 5,
        maxRetryDelay: 5,
        maxAttempts: 3,
      })
      const other = make({ url: own.url, prefix })
      const ro = recorder()
      try {
        await Promise.all([bus.subscribe(recorder()), other.subscribe(ro)])
        // Frozen, not killed: the other instance's subscription survives and sees what goes out.
        own.pause()
        await bus.publish(msg('a', { keys: ['k'] }))
        await waitFor(() => bus.stats().failed === 1, 5000, 'the drop')
        // The clear standing in for it is kept, however many attempts it takes.
        const attempts = bus.stats().failed
        await new Promise((r) => setTimeout(r, 500))
        expect(bus.stats()).toMatchObject({ queued: 1, failed: attempts })
        own.resume()
        await waitFor(() => bus.stats().queued === 0, 10_000, 'the clear to go out')
        await waitFor(() => ro.messages.some((m) => m.type === 'clear'), 5000, 'the clear to arrive')
        expect(ro.messages.find((m) => m.type === 'clear')).toMatchObject({
          instanceId: 'a',
          namespace: 'app',
        })
        expect(ro.reconnects).toBe(0)
      } finally {
        own.resume()
        await Promise.all([bus.close(), other.close()])
        await own.stop()
      }
    },
  )

  test('after losing its connection the subscriber asks for an L1 flush once it is back', async () => {
    const own = await startRedis()
    const prefix = uniquePrefix('bus')
    const a = redisBus({ url: own.url, prefix })
    const b = redisBus({ url: own.url, prefix })
    const rb = recorder()
    try {
      await Promise.all([a.subscribe(recorder()), b.subscribe(rb)])
      expect(rb.reconnects).toBe(0)
      await own.kill()
      await waitFor(() => rb.disconnects === 1, 3000, 'disconnected()')
      await own.restart()
      await waitFor(() => rb.reconnects === 1, 5000, 'reconnected()')
      // Subscribed again before reconnected() was called: the next message arrives.
      await a.publish(msg('a', { keys: ['after'] }))
      await waitFor(
        () => rb.messages.some((m) => m.keys?.[0] === 'after'),
        3000,
        'a message after the reconnect',
      )
      expect(b.stats().connected).toBe(true)
    } finally {
      await Promise.all([a.close(), b.close()])
      await own.stop()
    }
  })

  test('a client passed in publishes; its duplicate subscribes; only the duplicate is closed', async () => {
    const client = new Redis(server.url)
    const prefix = uniquePrefix('bus')
    const a: RedisBus = redisBus({ client, prefix })
    const b = redisBus({ url: server.url, prefix })
    const rb = recorder()
    try {
      await Promise.all([a.subscribe(recorder()), b.subscribe(rb)])
      await a.publish(msg('a'))
      await waitFor(() => rb.messages.length === 1)
      await a.close()
      await a.close()
      expect(client.status).toBe('ready')
      await a.publish(msg('a'))
      expect(a.stats().failed).toBe(1)
    } finally {
      client.disconnect()
      await b.close()
    }
  })
})
