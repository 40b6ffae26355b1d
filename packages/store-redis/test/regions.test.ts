/**
 * Regions on one machine: each region is a private redis-server (its L2 and its stream) with
 * two cache instances; relays copy invalidations between regions through TCP proxies that add
 * 40 ms each way and can cut the link.
 */

import { cpus, loadavg } from 'node:os'
import { type Cache, createCache } from '@tiercache/core'
import type { BusHandlers, BusMessage } from '@tiercache/core/store'
import { memoryStore } from '@tiercache/store-memory'
import { uniquePrefix, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startProxy, startRedis, type TcpProxy } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import {
  decodeBusMessage,
  type RedisStreamBus,
  type RegionRelay,
  redisBus,
  redisStore,
  regionRelay,
} from '../src/index.js'
import { assertBuilt, type Child, percentile, startFixture } from './instances.js'

const ONE_WAY = 40
const NAMES = ['a', 'b', 'c'] as const
type Name = (typeof NAMES)[number]

const servers = {} as Record<Name, RedisServer>
/** `links['a>b']`: how region b's relay reaches region a's Redis. */
const links: Record<string, TcpProxy> = {}

beforeAll(async () => {
  assertBuilt()
  const started = await Promise.all(NAMES.map(() => startRedis()))
  NAMES.forEach((n, i) => {
    servers[n] = started[i] as RedisServer
  })
  for (const from of NAMES) {
    for (const to of NAMES) {
      if (from === to) continue
      links[`${from}>${to}`] = await startProxy({ target: { port: servers[from].port }, latency: ONE_WAY })
    }
  }
})
afterAll(async () => {
  await Promise.all(Object.values(links).map((p) => p.close()))
  await Promise.all(Object.values(servers).map((s) => s.stop()))
})

const now = (): number => performance.now()

/** An in-process instance of a region, recording when each message arrives. */
interface Node {
  readonly region: Name
  readonly cache: Cache
  readonly bus: RedisStreamBus
  /** Message identity → arrival time. */
  readonly arrivals: Map<string, number>
  flushes: number
}

/** The identity of a message: its key, pattern, tag or cleared prefix. */
const identity = (m: BusMessage): string => m.keys?.[0] ?? m.pattern ?? m.tags?.[0] ?? `clear:${m.prefix}`

function instance(region: Name, prefix: string): Node {
  const bus = redisBus({ mode: 'stream', url: servers[region].url, prefix, pollInterval: 200 })
  const arrivals = new Map<string, number>()
  const subscribe = bus.subscribe.bind(bus)
  bus.subscribe = (handlers: BusHandlers) =>
    subscribe({
      ...handlers,
      message: (m) => {
        arrivals.set(identity(m), now())
        handlers.message(m)
      },
    })
  const cache = createCache({
    namespace: 'app',
    tiers: [memoryStore(), redisStore({ url: servers[region].url, prefix })],
    bus,
    ttl: '1h',
  })
  const node: Node = { region, cache, bus, arrivals, flushes: 0 }
  cache.on('flush', () => {
    node.flushes++
  })
  return node
}

function relay(region: Name, prefix: string, sources: readonly Name[], pollInterval = 200): RegionRelay {
  return regionRelay({
    region,
    to: { url: servers[region].url },
    prefix,
    pollInterval,
    from: sources.map((s) => ({ region: s, url: (links[`${s}>${region}`] as TcpProxy).url })),
  })
}

/** Event-loop lag probe: how late a 5 ms timer fires, so the bound can exclude this process's own stalls. */
function lagProbe(): { stop(): number[] } {
  const lags: number[] = []
  let expected = now() + 5
  const timer = setInterval(() => {
    const t = now()
    lags.push(Math.max(0, t - expected))
    expected = t + 5
  }, 5)
  return {
    stop: () => {
      clearInterval(timer)
      return lags
    },
  }
}

async function tail(server: RedisServer, key: string): Promise<string> {
  const r = (await server.command('XREVRANGE', key, '+', '-', 'COUNT', '1')) as [string][]
  return r[0]?.[0] ?? '0-0'
}

describe('three regions over a 40 ms link', () => {
  test('healthy link: cross-region p99 ≤ one-way latency + 25 ms over 510 mixed mutations; same-region p99 < 20 ms', async () => {
    const prefix = uniquePrefix('lat')
    const nodes = NAMES.flatMap((r) => [instance(r, prefix), instance(r, prefix)])
    const relays = NAMES.map((r) =>
      relay(
        r,
        prefix,
        NAMES.filter((s) => s !== r),
      ),
    )
    try {
      await Promise.all(relays.map((r) => r.ready))
      await Promise.all(nodes.map((n) => n.cache.ready()))
      await waitFor(() => nodes.every((n) => n.bus.stats().connected), 5000, 'buses')
      const started = new Map<string, { at: number; from: number }>()
      const probe = lagProbe()
      const inflight: Promise<unknown>[] = []
      const COUNT = 510
      for (let i = 0; i < COUNT; i++) {
        const from = i % nodes.length
        const cache = (nodes[from] as Node).cache
        let id: string
        let op: () => Promise<unknown>
        switch (i % 10) {
          case 0:
          case 1:
          case 2:
            id = `m${i}`
            op = () => cache.set(id, i)
            break
          case 3:
          case 4:
            id = `m${i}`
            op = () => cache.delete(id)
            break
          case 5:
          case 6:
            id = `p${i}:*`
            op = () => cache.deleteByPattern(id)
            break
          case 7:
          case 8:
            id = `t${i}`
            op = () => cache.invalidateTags([id])
            break
          default:
            id = `clear:c${i}`
            op = () => cache.namespace(`c${i}`).clear()
        }
        started.set(id, { at: now(), from })
        inflight.push(op())
        await new Promise((r) => setTimeout(r, 8))
      }
      await Promise.all(inflight)
      await waitFor(
        () => nodes.every((n, i) => [...started].every(([id, s]) => s.from === i || n.arrivals.has(id))),
        20_000,
        'every message at every other instance',
      )
      const lags = probe.stop()
      const same: number[] = []
      const cross: number[] = []
      for (const [id, s] of started) {
        const origin = nodes[s.from] as Node
        nodes.forEach((n, i) => {
          if (i === s.from) return
          const d = (n.arrivals.get(id) as number) - s.at
          if (n.region === origin.region) same.push(d)
          else cross.push(d)
        })
      }
      const lag99 = percentile(lags, 99)
      const result = {
        mutations: COUNT,
        crossP50: percentile(cross, 50),
        crossP99: percentile(cross, 99),
        sameP50: percentile(same, 50),
        sameP99: percentile(same, 99),
        eventLoopLagP99: lag99,
      }
      const load = loadavg()[0] as number
      console.log(
        'regions latency (ms):',
        JSON.stringify({ ...result, load1: load, cores: cpus().length }, (_, v) =>
          typeof v === 'number' ? Math.round(v * 10) / 10 : v,
        ),
      )
      expect(cross.length).toBe(COUNT * 4)
      expect(same.length).toBe(COUNT)
      // Every cross-region delivery crossed the link exactly once (never faster than it), and
      // each came by announcement: no relay or instance had to read anything back (a read-back
      // costs a round trip over the link, which is what would break the bound).
      expect(Math.min(...cross)).toBeGreaterThanOrEqual(ONE_WAY - 1)
      for (const r of relays) for (const s of r.stats()) expect(s.replayed).toBe(0)
      // The documented bounds hold when the machine has CPU to spare; they are timings of the
      // processes, not of the design, so on a saturated machine (load above the core count:
      // the instances, relays, proxies and three redis-servers then wait for a core) they are
      // recorded above, not asserted. The allowance subtracts this process's own measured stalls.
      if (load < cpus().length) {
        expect(result.crossP99).toBeLessThanOrEqual(ONE_WAY + 25 + lag99)
        expect(result.sameP99).toBeLessThan(20 + lag99)
      }
      expect(nodes.every((n) => n.flushes === 0)).toBe(true)
    } finally {
      await Promise.all(relays.map((r) => r.close()))
      await Promise.all(nodes.map((n) => n.cache.close()))
    }
  }, 60_000)
})

describe('two regions', () => {
  test('a 10 s partition under write load in both regions, then heal: nothing lost, no stale read after one catch-up period', async () => {
    const prefix = uniquePrefix('part')
    const regions: Name[] = ['a', 'b']
    const nodes = regions.flatMap((r) => [instance(r, prefix), instance(r, prefix)])
    const relays = regions.map((r) =>
      relay(
        r,
        prefix,
        regions.filter((s) => s !== r),
      ),
    )
    const db = new Map<string, number>()
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
    let version = 0
    const written = { a: 0, b: 0 } as Record<Name, number>
    let running = true
    try {
      await Promise.all(relays.map((r) => r.ready))
      await Promise.all(nodes.map((n) => n.cache.ready()))
      const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)] as T
      const writers = regions.map(async (region) => {
        const mine = nodes.filter((n) => n.region === region)
        while (running) {
          const k = pick(keys)
          const v = ++version
          db.set(k, v)
          const n = pick(mine)
          if (v % 2 === 0) await n.cache.set(k, v)
          else await n.cache.delete(k)
          written[region]++
          await new Promise((r) => setTimeout(r, 20))
        }
      })
      const readers = nodes.map(async (n) => {
        while (running) {
          const k = pick(keys)
          await n.cache.getOrSet(k, async () => db.get(k) ?? null)
          await new Promise((r) => setTimeout(r, 10))
        }
      })
      await new Promise((r) => setTimeout(r, 1000))
      links['a>b']?.cutLink()
      links['b>a']?.cutLink()
      await new Promise((r) => setTimeout(r, 10_000))
      running = false
      await Promise.all([...writers, ...readers])
      const healedAt = now()
      links['a>b']?.heal()
      links['b>a']?.heal()
      // Caught up: each relay's position is its source stream's tail, and every instance read its
      // own region's stream to the end. The tails are read live: after the heal each relay
      // appends the entries it copies to its own region's stream, which the other relay then
      // reads (and skips, as copies), so a stream's tail moves on after the heal. Copies are
      // never copied again, so both relays at their source's tail is a fixed point.
      const tails = async (): Promise<Record<'a' | 'b', string>> => ({
        a: await tail(servers.a, (relays[0] as RegionRelay).stream),
        b: await tail(servers.b, (relays[1] as RegionRelay).stream),
      })
      await waitFor(
        async () => {
          const [ra, rb] = relays.map((r) => r.stats()[0]?.position)
          const t = await tails()
          if (ra !== t.b || rb !== t.a) return false
          for (const n of nodes)
            if (n.bus.position !== (await tail(servers[n.region], n.bus.stream))) return false
          return true
        },
        20_000,
        async () =>
          `catch-up after heal (tails ${JSON.stringify(await tails())}, relays ${JSON.stringify(relays.map((r) => r.stats()))}, instances ${JSON.stringify(nodes.map((n) => n.bus.position))}, link connections ${links['a>b']?.connections}/${links['b>a']?.connections})`,
      )
      const catchUp = now() - healedAt
      let stale = 0
      for (const n of nodes) {
        for (const k of keys) {
          const v = await n.cache.get<number | null>(k)
          if (v !== undefined && v !== (db.get(k) ?? null)) stale++
        }
      }
      const [ra, rb] = relays.map((r) => r.stats()[0])
      console.log(
        'partition:',
        JSON.stringify({
          written,
          catchUpMs: Math.round(catchUp),
          copiedToA: ra?.copied,
          copiedToB: rb?.copied,
        }),
      )
      expect(written.a).toBeGreaterThan(100)
      expect(written.b).toBeGreaterThan(100)
      expect(rb?.copied).toBe(written.a)
      expect(ra?.copied).toBe(written.b)
      expect(ra?.gaps).toBe(0)
      expect(rb?.gaps).toBe(0)
      expect(stale).toBe(0)
      expect(nodes.every((n) => n.flushes === 0)).toBe(true)
    } finally {
      running = false
      links['a>b']?.heal()
      links['b>a']?.heal()
      await Promise.all(relays.map((r) => r.close()))
      await Promise.all(nodes.map((n) => n.cache.close()))
    }
  }, 60_000)

  test('a relay and an instance SIGKILLed mid-stream and restarted: nothing lost, nothing copied twice, no stale read', async () => {
    const prefix = uniquePrefix('kill')
    const a = servers.a
    const b = servers.b
    const dbUrl = a.url
    const relayConfig = JSON.stringify({
      region: 'b',
      to: { url: b.url },
      prefix,
      pollInterval: 200,
      from: [{ region: 'a', url: (links['a>b'] as TcpProxy).url }],
    })
    const startRelay = (): Promise<Child> => startFixture('relay.mjs', { TC_RELAY: relayConfig })
    const instanceConfig = JSON.stringify({ url: b.url, prefix, dbUrl })
    const startB = (): Promise<Child> => startFixture('region-instance.mjs', { TC_INSTANCE: instanceConfig })
    const writer = instance('a', prefix)
    const localB = instance('b', prefix)
    let relayB = await startRelay()
    let childB = await startB()
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`)
    const load = async (k: string): Promise<number | null> => {
      const v = await a.command('GET', `db:${k}`)
      return v === null ? null : Number(v)
    }
    try {
      await writer.cache.ready()
      const COUNT = 300
      for (let i = 0; i < COUNT; i++) {
        const k = keys[i % keys.length] as string
        await a.command('SET', `db:${k}`, String(i))
        if (i % 2 === 0) await writer.cache.set(k, i)
        else await writer.cache.delete(k)
        if (i % 20 === 0) {
          void childB.call('readAll', keys).catch(() => {})
          void Promise.all(keys.map((key) => localB.cache.getOrSet(key, () => load(key)))).catch(() => {})
        }
        if (i === 80) await relayB.kill()
        if (i === 130) relayB = await startRelay()
        if (i === 180) await childB.kill()
        if (i === 220) childB = await startB()
        await new Promise((r) => setTimeout(r, 5))
      }
      const sourceTail = await tail(a, writer.bus.stream)
      await waitFor(
        async () => (await b.command('GET', `${writer.bus.stream}:relay:a`)) === sourceTail,
        20_000,
        'relay b caught up',
      )
      // B's stream holds every message of A exactly once, in A's order.
      const local = (await a.command('XRANGE', writer.bus.stream, '-', '+')) as [string, string[]][]
      const copied = (await b.command('XRANGE', writer.bus.stream, '-', '+')) as [string, string[]][]
      const messages = (entries: [string, string[]][], origin?: string): string[] =>
        entries
          .filter(([, f]) => (origin === undefined ? !f.includes('o') : f[f.indexOf('o') + 1] === origin))
          .map(([, f]) => {
            const m = decodeBusMessage(f[f.indexOf('m') + 1] as string)
            return `${m?.type}:${m?.keys?.[0]}`
          })
      const fromA = messages(local)
      expect(fromA.length).toBe(COUNT)
      expect(messages(copied, 'a')).toEqual(fromA)
      const childTail = await tail(b, writer.bus.stream)
      await waitFor(async () => (await childB.call('position')) === childTail, 10_000, 'child caught up')
      await waitFor(() => localB.bus.position === childTail, 10_000, 'local b caught up')
      // No stale read anywhere in B: every cached value is the database's.
      const truth = await Promise.all(keys.map(load))
      const fromChild = await childB.call<(number | null | undefined)[]>('getAll', keys)
      const fromLocal = await Promise.all(keys.map((k) => localB.cache.get<number | null>(k)))
      keys.forEach((_, i) => {
        if (fromChild[i] !== undefined && fromChild[i] !== null) expect(fromChild[i]).toBe(truth[i])
        if (fromLocal[i] !== undefined && fromLocal[i] !== null) expect(fromLocal[i]).toBe(truth[i])
      })
      expect(await childB.call('readAll', keys)).toEqual(truth)
      expect(localB.flushes).toBe(0)
    } finally {
      await relayB.close().catch(() => {})
      await childB.close().catch(() => {})
      await Promise.all([writer.cache.close(), localB.cache.close()])
    }
  }, 60_000)
})
