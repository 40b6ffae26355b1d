/**
 * HTTP scenarios across instances: two app instances sharing Redis (each with its own memory
 * tier and a bus), and a failing shared tier that must fall through to the handler.
 *
 * @module
 */
import { type Cache, isTierCacheError } from '@tiercache/core'
import { type ChaosStore, chaosStore } from '@tiercache/core/testing'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { waitFor } from '../../promises.js'
import { get, type Harness, makeCache, SkewClock, type TestServer } from '../harness.js'
import { text } from './context.js'

/** Two app instances sharing Redis (each with its own memory tier and a bus), and store failures. */
export function runDistributedScenarios(harness: Harness): void {
  describe(`${harness.name}: two instances sharing Redis`, () => {
    const clock = new SkewClock()
    let a: { cache: Cache; srv: TestServer }
    let b: { cache: Cache; srv: TestServer }
    beforeAll(async () => {
      const one = makeCache('memory+redis', clock)
      const two = makeCache('memory+redis', clock, one.prefix)
      a = { cache: one.cache, srv: await harness.start(one.cache, { clock }) }
      b = { cache: two.cache, srv: await harness.start(two.cache, { clock }) }
    })
    afterAll(async () => {
      await a?.srv.close()
      await b?.srv.close()
      await a?.cache.close()
      await b?.cache.close()
    })

    /** The same route on both instances (routes are named in registration order). */
    function both(options: Parameters<TestServer['route']>[0], handle: Parameters<TestServer['route']>[1]) {
      return [a.srv.route(options, handle), b.srv.route(options, handle)] as const
    }

    test('a response stored by one instance is a hit on the other', async () => {
      const [ra, rb] = both({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      expect((await get(ra.url)).cache).toBe('MISS')
      const other = await get(rb.url)
      expect([other.cache, other.text]).toEqual(['HIT', 'v1'])
      expect(rb.calls).toBe(0)
    })

    test('a purge on one instance is seen by the other', async () => {
      const [ra, rb] = both({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      await get(ra.url)
      expect((await get(rb.url)).cache).toBe('HIT')
      expect((await get(rb.url)).cache).toBe('HIT')
      await a.srv.purge(ra.url)
      await waitFor(async () => (await get(rb.url)).cache === 'MISS', 3000, 'the purge to reach instance b')
      expect(rb.calls).toBe(1)
    })

    test('tag invalidation on one instance is seen by the other', async () => {
      const [ra, rb] = both({ ttl: '1m', tags: ['catalog'] }, (_req, n) => text(`v${n}`))
      await get(ra.url)
      expect((await get(rb.url)).cache).toBe('HIT')
      await a.cache.invalidateTags(['catalog'])
      await waitFor(async () => (await get(rb.url)).cache === 'MISS', 3000, 'the tag invalidation to reach b')
    })
  })

  describe(`${harness.name}: store failures fall through to the handler`, () => {
    const clock = new SkewClock()
    let chaos: ChaosStore<any>
    let cache: Cache
    let srv: TestServer
    beforeAll(async () => {
      cache = makeCache('memory+redis', clock, undefined, (s) => {
        chaos = chaosStore(s)
        return chaos
      }).cache
      srv = await harness.start(cache, { clock })
    })
    afterAll(async () => {
      chaos?.heal()
      await srv?.close()
      await cache?.close()
    })

    test('a hanging shared tier is given up after lookupTimeout', async () => {
      const errors: unknown[] = []
      const onError = (error: unknown) => void errors.push(error)
      const r = srv.route({ ttl: '1m', lookupTimeout: 50, onError }, (_req, n) => text(`v${n}`))
      chaos.hang()
      const started = Date.now()
      const res = await get(r.url)
      expect([res.status, res.text]).toEqual([200, 'v1'])
      expect(Date.now() - started).toBeLessThan(2000)
      chaos.heal()
      // The give-up is reported with a stable code, never as a bare Error.
      const timeout = errors.find((e) => isTierCacheError(e, 'E_STORE_TIMEOUT'))
      expect(timeout).toMatchObject({ operation: 'lookup', timeout: 50 })
    })

    test('requests arriving during a slow shared-tier lookup and handler run are collapsed into one run', async () => {
      // Each lookup past the in-process tier takes 40 ms and the handler 10 ms; requests arrive
      // every 2 ms for 150 ms, so many look up while the first flight runs and ends. Each of
      // them must join the flight or find its response: one handler run.
      const r = srv.route({ ttl: '1m', lockTimeout: '2m' }, (_req, n) => ({ ...text(`v${n}`), delay: 10 }))
      chaos.delay(40, ['get', 'getMany'])
      try {
        const all: Promise<{ text: string }>[] = []
        for (let i = 0; i < 75; i++) {
          all.push(get(r.url))
          await new Promise((resolve) => setTimeout(resolve, 2))
        }
        const texts = new Set((await Promise.all(all)).map((a) => a.text))
        expect(r.calls).toBe(1)
        expect(texts).toEqual(new Set(['v1']))
      } finally {
        chaos.heal()
      }
    })

    test('a failing shared tier is a miss, and the in-process tier still serves', async () => {
      const r = srv.route({ ttl: '1m' }, (_req, n) => text(`v${n}`))
      chaos.fail()
      expect((await get(r.url)).text).toBe('v1')
      expect((await get(r.url)).cache).toBe('HIT')
      chaos.heal()
    })
  })
}
