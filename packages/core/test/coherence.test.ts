/**
 * Regression tests of the coherence model (core's README, "Coherence"), on in-process stores
 * with an injected clock: a read that overlaps an invalidation never writes back what it read,
 * a back-fill into a shared tier never lands after another instance's invalidation, refused
 * writes leave no older value behind, settled flights are never joined, and timers that settle a
 * caller keep the process alive.
 */
import { spawnSync } from 'node:child_process'
import { busHub, caught, deferred, localStore, remoteStore } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { createCache, isTierCacheError } from '../src/index.js'
import { chaosStore, ManualClock } from '../src/testing/index.js'

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('a read that overlaps an invalidation does not write back what it read', () => {
  test('get during deleteByPattern (L1 cleared, L2 not yet): no back-fill of the old value', async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    const l2 = chaosStore(remoteStore(clock))
    const cache = createCache({ tiers: [l1, l2], clock })
    await cache.set('k1', 'v')
    l2.hang(['deleteByPattern'])
    const p = cache.deleteByPattern('k1*')
    await tick()
    expect(l1.map.has('k1')).toBe(false) // L1 is already cleared
    const g = await cache.get('k1') // reads L2 before the pattern delete reaches it
    expect(g).toBe('v') // concurrent with the delete: the old value may be returned...
    expect(l1.map.has('k1')).toBe(false) // ...but it is not written back
    l2.heal()
    await p
    expect(await cache.get('k1')).toBeUndefined()
  })

  test('delete with a slow L3: a read of L2 during it does not back-fill L1, and L2 is deleted after L3', async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    const l2 = chaosStore(remoteStore(clock, { name: 'l2' }))
    const l3 = chaosStore(remoteStore(clock, { name: 'l3' }))
    const cache = createCache({ tiers: [l1, l2, l3], clock })
    await cache.set('k', 'old')
    l3.hang(['delete'])
    const p = cache.delete('k')
    await tick()
    expect(l2.calls.delete ?? 0).toBe(0) // bottom-up: L2 waits for L3
    expect(await cache.get('k')).toBe('old')
    expect(l1.map.has('k')).toBe(false)
    l3.heal()
    expect(await p).toBe(true)
    expect(await cache.get('k')).toBeUndefined()
  })

  test('set during a slow read: the read does not overwrite the newer L1 value', async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    const l2 = chaosStore(remoteStore(clock))
    const cache = createCache({ tiers: [l1, l2], clock })
    await cache.set('k', 'v1')
    l1.map.clear()
    l2.hang(['get'])
    const read = cache.get('k')
    await tick()
    l2.heal()
    await cache.set('k', 'v2')
    expect(await read).toBe('v1')
    expect(await cache.get('k')).toBe('v2')
  })
})

describe('a back-fill into a shared tier never resurrects across instances', () => {
  /** Two instances over one L2 map and one L3 map (both shared), with a bus. */
  function pair() {
    const clock = new ManualClock()
    const l2map = new Map()
    const l3map = new Map()
    const hub = busHub()
    const make = () => {
      const l2 = chaosStore(remoteStore(clock, { name: 'redis', map: l2map }))
      const l3 = chaosStore(remoteStore(clock, { name: 'sql', map: l3map }))
      const l1 = localStore(clock)
      const cache = createCache({ namespace: 'app', tiers: [l1, l2, l3], clock, bus: hub.connect() })
      return { cache, l1, l2, l3 }
    }
    return { clock, l2map, l3map, a: make(), b: make() }
  }

  test('A reads L3 (slow), B deletes everywhere, then A back-fills: L2 stays empty', async () => {
    const { l2map, a, b } = pair()
    await a.cache.set('k', 'old')
    l2map.clear() // Redis lost the key: only L3 has it
    a.l1.map.clear()
    a.l3.hang(['get'])
    const read = a.cache.get('k')
    await tick()
    expect(await b.cache.delete('k')).toBe(true)
    a.l3.heal() // A's L3 read answers now... with the value it read before the delete
    await read
    await tick()
    expect(l2map.has('app:k')).toBe(false)
    expect(await a.cache.get('k')).toBeUndefined()
    expect(await b.cache.get('k')).toBeUndefined()
  })

  test('A reads L3 (slow), B overwrites everywhere: L2 keeps B’s value', async () => {
    const { l2map, a, b } = pair()
    await a.cache.set('k', 'old')
    l2map.clear()
    a.l1.map.clear()
    a.l3.hang(['get'])
    const read = a.cache.get('k')
    await tick()
    await b.cache.set('k', 'new')
    a.l3.heal()
    await read
    await tick()
    expect(await a.cache.get('k')).toBe('new')
    b.l1.map.clear()
    expect(await b.cache.get('k')).toBe('new')
  })

  test('A reads L3 (slow), B clears the namespace: nothing comes back', async () => {
    const { l2map, a, b } = pair()
    await a.cache.set('k', 'old')
    l2map.clear()
    a.l1.map.clear()
    a.l3.hang(['get'])
    const read = a.cache.get('k')
    await tick()
    await b.cache.clear()
    a.l3.heal()
    await read
    await tick()
    expect(l2map.has('app:k')).toBe(false)
    expect(await a.cache.get('k')).toBeUndefined()
  })

  test('a getOrSet on A whose loader read the source before B deleted: its result is not written to shared tiers', async () => {
    const { l2map, l3map, a, b } = pair()
    const gate = deferred<string>()
    const loading = a.cache.getOrSet('k', () => gate.promise)
    await tick()
    await tick()
    await b.cache.delete('k') // B's delete runs while A's loader is out
    gate.resolve('read before the delete')
    expect(await loading).toBe('read before the delete')
    await tick()
    expect(l2map.has('app:k')).toBe(false)
    expect(l3map.has('app:k')).toBe(false)
    expect(await a.cache.get('k')).toBeUndefined()
  })

  test('without a conditional write, a shared tier receives no back-fill', async () => {
    const clock = new ManualClock()
    const plain = remoteStore(clock, { name: 'plain', caps: { deleteByPattern: true } })
    const l3 = remoteStore(clock, { name: 'l3' })
    const cache = createCache({ tiers: [localStore(clock), plain, l3], clock, bus: busHub().connect() })
    await cache.set('k', 'v')
    plain.map.clear()
    expect(await cache.get('k')).toBe('v')
    expect(plain.map.size).toBe(0)
  })
})

describe('a local tier below a shared one (a SQLite file per instance)', () => {
  function instances() {
    const clock = new ManualClock()
    const shared = new Map()
    const hub = busHub()
    const make = () => {
      const l1 = localStore(clock)
      const file = remoteStore(clock, { name: 'file' })
      Object.defineProperty(file, 'scope', { value: 'local' })
      const bus = hub.connect()
      const cache = createCache({
        namespace: 'app',
        tiers: [l1, remoteStore(clock, { name: 'redis', map: shared }), file],
        clock,
        bus,
      })
      return { cache, l1, file, bus }
    }
    return { clock, shared, a: make(), b: make() }
  }

  test('bus messages reach every local tier, not only L1', async () => {
    const { shared, a, b } = instances()
    await a.cache.set('k', 'v1')
    await b.cache.get('k') // B's L1 has it
    await b.cache.set('k2', 'x')
    expect(a.file.map.has('app:k')).toBe(true)
    await b.cache.set('k', 'v2')
    expect(a.l1.map.has('k')).toBe(false)
    expect(a.file.map.has('app:k')).toBe(false)
    shared.clear() // Redis loses everything: A must not serve v1 from its file
    expect(await a.cache.get('k')).toBeUndefined()
  })

  test('after a bus gap, what the local file held before is no longer fresh, but still fails safe', async () => {
    const { shared, a } = instances()
    await a.cache.set('k', 'v1', { ttl: '1h', grace: '1h' })
    a.bus.reconnect() // messages may have been lost meanwhile
    shared.clear()
    expect(await a.cache.get('k')).toBeUndefined()
    const failing = await a.cache.getOrSet('k', () => {
      throw new Error('source down')
    })
    expect(failing).toBe('v1') // the local file's value serves as fail-safe
    expect(await a.cache.getOrSet('k2', () => 'fresh')).toBe('fresh')
    a.l1.map.clear()
    shared.clear()
    expect(await a.cache.get('k2')).toBe('fresh') // written after the gap: fresh in the file
  })

  test('a value in a local tier never back-fills a shared one when there is a bus', async () => {
    const { shared, a } = instances()
    await a.cache.set('k', 'v')
    shared.clear()
    a.l1.map.clear()
    expect(await a.cache.get('k')).toBe('v')
    await tick()
    expect(shared.size).toBe(0)
  })
})

describe('refused writes', () => {
  test('a remote tier refusing a value too large loses the key instead of keeping the old value', async () => {
    const clock = new ManualClock()
    const l1 = localStore(clock)
    const l2 = remoteStore(clock)
    const l3 = remoteStore(clock, { name: 'sql' })
    Object.defineProperty(l3, 'maxEntryBytes', { value: 64 })
    const orig = l3.set.bind(l3)
    l3.set = async (key, entry) => {
      if (entry.value.byteLength > 64) {
        const { ValueTooLargeError } = await import('../src/index.js')
        throw new ValueTooLargeError(entry.value.byteLength, 64, { store: 'sql' })
      }
      return orig(key, entry)
    }
    const cache = createCache({ tiers: [l1, l2, l3], clock })
    const events: unknown[] = []
    cache.on('error', (e) => events.push(e.error))
    await cache.set('k', 'small')
    await cache.set('k', 'x'.repeat(200))
    expect(l3.map.has('cache:k')).toBe(false)
    expect(events.some((e) => isTierCacheError(e, 'E_VALUE_TOO_LARGE'))).toBe(true)
    expect(cache.getStats().tiers[2]?.refused).toBe(1)
    expect(cache.getStats().refused).toBe(1)
    l1.map.clear()
    l2.map.clear()
    expect(await cache.get('k')).toBeUndefined() // never the old 'small'
  })

  test('a value over L1 maxEntryBytes: an error event, a stat, and strict mode throws', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock, 16), remoteStore(clock)], clock })
    const events: unknown[] = []
    cache.on('error', (e) => events.push(e.error))
    await cache.set('big', 'x'.repeat(100))
    expect(events).toHaveLength(1)
    expect(isTierCacheError(events[0], 'E_VALUE_TOO_LARGE')).toBe(true)
    expect(cache.getStats().tiers[0]?.refused).toBe(1)
    expect(await cache.get('big')).toBe('x'.repeat(100)) // served from L2
    const strict = createCache({ tiers: [localStore(clock, 16)], clock, strict: true })
    const error = await caught(() => strict.set('big', 'x'.repeat(100)))
    expect(isTierCacheError(error, 'E_VALUE_TOO_LARGE')).toBe(true)
  })
})

describe('single-flight never joins a settled flight', () => {
  test('after a loader returned undefined, the next call runs the loader again', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock)], clock })
    let calls = 0
    const loader = () => {
      calls++
      return undefined
    }
    await cache.getOrSet('k', loader)
    await cache.getOrSet('k', loader)
    await cache.getOrSet('k', loader)
    expect(calls).toBe(3)
  })

  test('after a loader threw, an awaited retry runs the loader again', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock), remoteStore(clock)], clock })
    let calls = 0
    const loader = async () => {
      calls++
      throw new Error(`failure ${calls}`)
    }
    for (let i = 1; i <= 5; i++) {
      const error = await caught(() => cache.getOrSet('k', loader))
      expect((error as Error).message).toBe(`failure ${i}`)
    }
    expect(calls).toBe(5)
  })

  test('a caller arriving after a stale answer waits for the running load, not the old answer', async () => {
    const clock = new ManualClock()
    const cache = createCache({ tiers: [localStore(clock), remoteStore(clock)], clock, grace: '1h' })
    await cache.set('k', 'old', { ttl: 1000 })
    await clock.advance(1001)
    const gate = deferred<string>()
    let calls = 0
    const loader = () => {
      calls++
      return gate.promise
    }
    expect(await cache.getOrSet('k', loader, { staleWhileRevalidate: '1m' })).toBe('old')
    const late = cache.getOrSet('k', loader) // no SWR: waits for the load under way
    gate.resolve('new')
    expect(await late).toBe('new')
    expect(calls).toBe(1)
  })
})

describe('timers that settle a caller keep the process alive', () => {
  const script = (body: string): { status: number | null; stdout: string; stderr: string } => {
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', body], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
      timeout: 20_000,
    })
    return { status: r.status, stdout: r.stdout, stderr: r.stderr }
  }
  const core = new URL('../dist/index.js', import.meta.url).href
  const memory = new URL('../../store-memory/dist/index.js', import.meta.url).href

  test('hardTimeout rejects a never-settling loader with E_HARD_TIMEOUT instead of exiting 13', () => {
    const r = script(`
      import { createCache } from '${core}'
      import { memoryStore } from '${memory}'
      const cache = createCache({ tiers: [memoryStore()] })
      try {
        await cache.getOrSet('k', () => new Promise(() => {}), { hardTimeout: 100 })
        console.log('resolved')
      } catch (e) { console.log(e.code) }
    `)
    expect(r.stderr).toBe('')
    expect(r.stdout.trim()).toBe('E_HARD_TIMEOUT')
    expect(r.status).toBe(0)
  })

  test('softTimeout answers stale and the process exits once done', () => {
    const r = script(`
      import { createCache } from '${core}'
      import { memoryStore } from '${memory}'
      const cache = createCache({ tiers: [memoryStore()], grace: '1h' })
      await cache.set('k', 'stale', { ttl: 1 })
      await new Promise((r) => setTimeout(r, 5))
      console.log(await cache.getOrSet('k', () => new Promise(() => {}), { softTimeout: 50 }))
      process.exit(0)
    `)
    expect(r.stdout.trim()).toBe('stale')
    expect(r.status).toBe(0)
  })
})
