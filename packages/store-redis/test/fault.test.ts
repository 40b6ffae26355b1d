import { defaultSerializer, isTierCacheError } from '@tiercache/core'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { freePort, type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { redisStore } from '../src/index.js'
import { entry } from './helpers.js'

const COMMAND_TIMEOUT = 300

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(() => server?.stop())

/** Runs `fn` and returns how long it took and what it threw. */
async function timed(fn: () => Promise<unknown>): Promise<{ ms: number; error: unknown }> {
  const start = performance.now()
  try {
    await fn()
    return { ms: performance.now() - start, error: undefined }
  } catch (error) {
    return { ms: performance.now() - start, error }
  }
}

describe('outages', () => {
  test('Redis killed mid-run: calls fail fast with typed errors, then the client reconnects', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix(), commandTimeout: COMMAND_TIMEOUT })
    const changes: boolean[] = []
    const off = store.onStatusChange((up) => changes.push(up))
    try {
      await store.set('ns:k', entry('before'))

      // Traffic in flight while the server dies.
      let stop = false
      const outcomes = { ok: 0, failed: 0, untyped: 0 }
      const worker = async (): Promise<void> => {
        for (let i = 0; !stop; i++) {
          try {
            if (i % 2) await store.get('ns:k')
            else await store.set(`ns:${i % 10}`, entry(i))
            outcomes.ok++
          } catch (e) {
            if (isTierCacheError(e)) outcomes.failed++
            else outcomes.untyped++
            await new Promise((r) => setTimeout(r, 5))
          }
        }
      }
      const workers = Array.from({ length: 8 }, worker)
      await new Promise((r) => setTimeout(r, 100))
      await server.kill()
      await waitFor(() => changes.includes(false), 2000, 'a status change to false')

      // Down: each call fails well within the command timeout, with E_STORE.
      for (const op of [
        () => store.get('ns:k'),
        () => store.set('ns:k', entry(1)),
        () => store.clear('ns'),
      ]) {
        const { ms, error } = await timed(op)
        expect(isTierCacheError(error, 'E_STORE'), String(error)).toBe(true)
        expect((error as Error).message).toMatch(/Redis is not reachable|not connected/)
        expect(ms).toBeLessThan(COMMAND_TIMEOUT)
      }
      const stats = await store.stats()
      expect(stats.connected).toBe(false)
      // The traffic sees the outage too: calls in flight when Redis died time out, new ones fail fast.
      await waitFor(() => outcomes.failed > 0, 3000, 'failures in the traffic')

      await server.restart()
      await waitFor(() => changes.at(-1) === true, 5000, 'a status change back to true')
      await store.set('ns:k', entry('after'))
      expect(defaultSerializer.deserialize((await store.get('ns:k'))!.value)).toBe('after')
      stop = true
      await Promise.all(workers)
      expect(outcomes.untyped).toBe(0)
      expect(outcomes.ok).toBeGreaterThan(0)
      expect(outcomes.failed).toBeGreaterThan(0)
      // Connected at start, lost, back.
      expect(changes).toEqual([true, false, true])
    } finally {
      off()
      await store.close()
    }
  })

  test('a paused (hung) Redis: calls fail with E_STORE_TIMEOUT after the command timeout', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix(), commandTimeout: COMMAND_TIMEOUT })
    try {
      await store.set('ns:k', entry(1))
      server.pause()
      const results = await Promise.all([
        timed(() => store.get('ns:k')),
        timed(() => store.getMany(['ns:k', 'ns:j'])),
        timed(() => store.setMany([['ns:k', entry(2)]])),
        timed(() => store.deleteByPattern('ns:*')),
      ])
      for (const { ms, error } of results) {
        expect(isTierCacheError(error, 'E_STORE_TIMEOUT'), String(error)).toBe(true)
        expect((error as { timeout?: number }).timeout).toBe(COMMAND_TIMEOUT)
        expect(ms).toBeGreaterThanOrEqual(COMMAND_TIMEOUT - 20)
        expect(ms).toBeLessThan(COMMAND_TIMEOUT * 4)
      }
    } finally {
      server.resume()
      await store.close()
    }
    // The server is fine again.
    expect(await server.command('PING')).toBe('PONG')
  })

  test('Redis down at startup: the first call fails fast naming the cause; it works once Redis is up', async () => {
    const port = await freePort()
    const store = redisStore({
      url: `redis://127.0.0.1:${port}`,
      prefix: uniquePrefix(),
      commandTimeout: COMMAND_TIMEOUT,
    })
    let late: RedisServer | undefined
    try {
      const { ms, error } = await timed(() => store.get('ns:k'))
      expect(isTierCacheError(error, 'E_STORE'), String(error)).toBe(true)
      expect((error as Error).message).toMatch(/ECONNREFUSED/)
      expect(ms).toBeLessThanOrEqual(COMMAND_TIMEOUT + 50)
      late = await startRedis({ port })
      await waitFor(async () => (await store.stats()).connected === true, 5000, 'the reconnect')
      await store.set('ns:k', entry('up'))
      expect(await store.has('ns:k')).toBe(true)
    } finally {
      await store.close()
      await late?.stop()
    }
  })

  test('an owned client of a store closed during an outage ends without hanging', async () => {
    const store = redisStore({ url: server.url, prefix: uniquePrefix(), commandTimeout: COMMAND_TIMEOUT })
    await store.set('ns:k', entry(1))
    await server.kill()
    try {
      const { ms } = await timed(() => store.close())
      expect(ms).toBeLessThan(1500)
      await expect(store.get('ns:k')).rejects.toSatisfy((e) => isTierCacheError(e, 'E_STORE'))
    } finally {
      await server.restart()
    }
  })
})
