import type { Store } from '@tiercache/core'
import type { StoreEntry } from '@tiercache/core/store'
import { type ChaosStore, chaosStore, flushMicrotasks, ManualClock } from '@tiercache/core/testing'
import { settle } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { type BreakerOptions, CircuitOpenError, type ReplayEvent, withBreaker } from '../src/index.js'
import { asyncStore, entry, memory, text } from './helpers.js'

const RESET = 1000

/**
 * A breaker around chaos(async(memory)) that is already open. `raw` is the memory store behind
 * it, read directly to see what the backend holds.
 */
async function openBreaker(options: BreakerOptions = {}, inner: Store<unknown> = memory()) {
  const clock = new ManualClock(Date.now())
  const chaos = chaosStore(asyncStore(inner))
  const breaker = withBreaker(chaos, {
    clock,
    failureThreshold: 1,
    resetTimeout: RESET,
    replayWrites: true,
    ...options,
  })
  const replays: ReplayEvent[] = []
  breaker.on('replay', (e) => replays.push(e))
  chaos.fail(['has'])
  await settle(breaker.has('trip'))
  chaos.heal()
  expect(breaker.state).toBe('open')
  return { clock, chaos, breaker, raw: inner, replays }
}

async function rejected(p: unknown): Promise<boolean> {
  const r = await settle(p as Promise<unknown>)
  return !r.ok && (r as { error: unknown }).error instanceof CircuitOpenError
}

async function recover(clock: ManualClock): Promise<void> {
  await clock.advance(RESET)
  await flushMicrotasks()
}

describe('journal and replay', () => {
  test('deletes made while open reach the store on recovery, before any read is let through', async () => {
    const { clock, chaos, breaker, raw } = await openBreaker()
    raw.set('app:a', entry('A'))
    raw.set('app:b', entry('B'))
    expect(await rejected(breaker.delete('app:a'))).toBe(true)
    expect(breaker.journalSize).toBe(1)
    chaos.hang(['deleteMany'])
    await clock.advance(RESET)
    expect(breaker.state).toBe('half-open')
    // The replay is the probe: while it runs, reads and writes fail fast.
    expect(await rejected(breaker.get('app:b'))).toBe(true)
    expect(await rejected(breaker.get('app:a'))).toBe(true)
    expect(text(raw.get('app:a') as StoreEntry)).toBe('A')
    chaos.heal()
    await flushMicrotasks()
    expect(breaker.state).toBe('closed')
    expect(raw.get('app:a')).toBeUndefined()
    expect(await breaker.get('app:a')).toBeUndefined()
    expect(text(await breaker.get('app:b'))).toBe('B')
    expect(breaker.journalSize).toBe(0)
    expect(breaker.counters.replayed).toBe(1)
  })

  test('per key, the latest intent wins', async () => {
    const { clock, breaker, raw, replays } = await openBreaker()
    raw.set('app:x', entry('old'))
    raw.set('app:y', entry('old'))
    await settle(breaker.set('app:x', entry('v1')))
    await settle(breaker.delete('app:x'))
    await settle(breaker.set('app:x', entry('v2')))
    await settle(breaker.set('app:y', entry('v1')))
    await settle(breaker.delete('app:y'))
    expect(breaker.journalSize).toBe(2)
    await recover(clock)
    expect(breaker.state).toBe('closed')
    expect(text(raw.get('app:x') as StoreEntry)).toBe('v2')
    expect(raw.get('app:y')).toBeUndefined()
    expect(replays).toMatchObject([{ mode: 'probe', ok: true, applied: 2, remaining: 0 }])
  })

  test('a refused write is journaled: the store must not keep serving the old value', async () => {
    const { clock, breaker, raw } = await openBreaker()
    raw.set('app:k', entry('old'))
    expect(await rejected(breaker.set('app:k', entry('new')))).toBe(true)
    await recover(clock)
    expect(text(raw.get('app:k') as StoreEntry)).toBe('new')
  })

  test('a large refused write is journaled as a delete of its key', async () => {
    const { clock, breaker, raw } = await openBreaker({ journal: { maxEntryBytes: 16 } })
    raw.set('app:big', entry('old'))
    raw.set('app:small', entry('old'))
    await settle(breaker.set('app:big', entry('x'.repeat(100))))
    await settle(breaker.set('app:small', entry('tiny', { tags: ['t'] })))
    await recover(clock)
    expect(raw.get('app:big')).toBeUndefined()
    expect(text(raw.get('app:small') as StoreEntry)).toBe('tiny')
  })

  test('an entry of unknown size is journaled as a delete', async () => {
    const { clock, breaker, raw } = await openBreaker()
    raw.set('app:live', entry('old'))
    const live: StoreEntry<unknown> = { ...entry('x'), value: { live: true } }
    delete (live as { size?: number }).size
    await settle(breaker.set('app:live', live))
    await recover(clock)
    expect(raw.get('app:live')).toBeUndefined()
  })

  test('a journaled write that expired before the replay becomes a delete', async () => {
    const { clock, breaker, raw } = await openBreaker()
    raw.set('app:k', entry('old'))
    await settle(breaker.set('app:k', entry('short', { staleUntil: clock.now() + 500 })))
    await recover(clock)
    expect(raw.get('app:k')).toBeUndefined()
  })

  test('setMany and deleteMany are journaled per key', async () => {
    const { clock, breaker, raw } = await openBreaker()
    raw.set('app:a', entry('old'))
    raw.set('app:b', entry('old'))
    await settle(
      breaker.setMany([
        ['app:a', entry('A')],
        ['app:c', entry('C')],
      ]),
    )
    await settle(breaker.deleteMany(['app:b']))
    expect(breaker.journalSize).toBe(3)
    await recover(clock)
    expect(text(raw.get('app:a') as StoreEntry)).toBe('A')
    expect(raw.get('app:b')).toBeUndefined()
    expect(text(raw.get('app:c') as StoreEntry)).toBe('C')
  })

  test('a clear supersedes earlier intents in its namespace; later ones are replayed after it', async () => {
    const { clock, chaos, breaker, raw } = await openBreaker()
    raw.set('app:users:1', entry('u1'))
    raw.set('app:users:2', entry('u2'))
    raw.set('app:posts:1', entry('p1'))
    raw.set('app:users2:1', entry('neighbour'))
    await settle(breaker.set('app:users:1', entry('written before the clear')))
    await settle(breaker.set('app:posts:1', entry('p1 new')))
    await settle(breaker.clear('app:users'))
    await settle(breaker.set('app:users:3', entry('written after the clear')))
    expect(breaker.journalSize).toBe(3)
    await recover(clock)
    expect(raw.get('app:users:1')).toBeUndefined()
    expect(raw.get('app:users:2')).toBeUndefined()
    expect(text(raw.get('app:users:3') as StoreEntry)).toBe('written after the clear')
    expect(text(raw.get('app:posts:1') as StoreEntry)).toBe('p1 new')
    expect(text(raw.get('app:users2:1') as StoreEntry)).toBe('neighbour')
    expect(chaos.calls.clear).toBe(1)
  })

  test('pattern deletes are journaled and replayed; a wider clear supersedes them', async () => {
    const { clock, chaos, breaker, raw } = await openBreaker()
    raw.set('app:user:1', entry('1'))
    raw.set('app:user:2', entry('2'))
    raw.set('app:post:1', entry('p'))
    await settle(breaker.deleteByPattern('app:user:*'))
    await recover(clock)
    expect(raw.get('app:user:1')).toBeUndefined()
    expect(raw.get('app:user:2')).toBeUndefined()
    expect(text(raw.get('app:post:1') as StoreEntry)).toBe('p')
    expect(chaos.calls.deleteByPattern).toBe(1)

    chaos.fail(['has'])
    await settle(breaker.has('trip'))
    chaos.heal()
    await settle(breaker.deleteByPattern('app:user:*'))
    await settle(breaker.deleteByPattern('app:post:?'))
    await settle(breaker.clear('app'))
    expect(breaker.journalSize).toBe(1)
    await recover(clock)
    expect(raw.get('app:post:1')).toBeUndefined()
    expect(chaos.calls.deleteByPattern).toBe(1)
    expect(chaos.calls.clear).toBe(1)
  })

  test('overflow collapses to clears of every namespace the journal touched', async () => {
    const { clock, chaos, breaker, raw } = await openBreaker({ journal: { maxEntries: 3 } })
    for (const key of ['app:1', 'app:2', 'other:1', 'apps:1', 'untouched:1']) raw.set(key, entry(key))
    await settle(breaker.delete('app:1'))
    await settle(breaker.delete('app:2'))
    await settle(breaker.delete('other:1'))
    expect(breaker.counters.journalOverflows).toBe(0)
    await settle(breaker.set('apps:9', entry('written during the outage')))
    expect(breaker.counters.journalOverflows).toBe(1)
    expect(breaker.journalSize).toBe(3) // clear('app'), clear('other'), clear('apps')
    await recover(clock)
    expect(chaos.calls.clear).toBe(3)
    expect(raw.get('app:2')).toBeUndefined()
    expect(raw.get('other:1')).toBeUndefined()
    expect(raw.get('apps:1')).toBeUndefined()
    expect(raw.get('apps:9')).toBeUndefined()
    expect(text(raw.get('untouched:1') as StoreEntry)).toBe('untouched:1')
  })

  test("overflow of the engine's tag records also clears the entries they govern", async () => {
    const { clock, breaker, raw } = await openBreaker({ journal: { maxEntries: 2 } })
    raw.set('app:user:1', entry('tagged, invalidated during the outage', { tags: ['u1'] }))
    raw.set('app#tags:u0', entry('1'))
    raw.set('other:1', entry('kept'))
    for (const tag of ['u1', 'u2', 'u3']) await settle(breaker.set(`app#tags:${tag}`, entry('2')))
    expect(breaker.counters.journalOverflows).toBe(1)
    await recover(clock)
    expect(raw.get('app:user:1')).toBeUndefined()
    expect(raw.get('app#tags:u0')).toBeUndefined()
    expect(text(raw.get('other:1') as StoreEntry)).toBe('kept')
  })

  test('overflow with keys outside any namespace clears everything', async () => {
    const { clock, breaker, raw } = await openBreaker({ journal: { maxEntries: 1 } })
    raw.set('plain', entry('p'))
    raw.set('app:1', entry('1'))
    await settle(breaker.delete('plain'))
    await settle(breaker.delete('app:1'))
    expect(breaker.counters.journalOverflows).toBe(1)
    await recover(clock)
    expect((await raw.stats!()).entries).toBe(0)
  })

  test('overflow by number of clears and pattern deletes', async () => {
    const { clock, chaos, breaker, raw } = await openBreaker()
    raw.set('app:x1', entry('x'))
    for (let i = 0; i <= 256; i++) await settle(breaker.deleteByPattern(`app:x${i}*`))
    expect(breaker.counters.journalOverflows).toBe(1)
    expect(breaker.journalSize).toBe(1)
    await recover(clock)
    expect(chaos.calls.deleteByPattern).toBeUndefined()
    expect(chaos.calls.clear).toBe(1)
    expect(raw.get('app:x1')).toBeUndefined()
  })

  test('overflow by bytes', async () => {
    const { breaker } = await openBreaker({ journal: { maxBytes: 50, maxEntryBytes: 40 } })
    await settle(breaker.set('app:1', entry('x'.repeat(30))))
    expect(breaker.counters.journalOverflows).toBe(0)
    await settle(breaker.set('app:2', entry('x'.repeat(30))))
    expect(breaker.counters.journalOverflows).toBe(1)
    expect(breaker.journalSize).toBe(1)
  })

  test('a failed replay reopens the breaker and keeps the journal', async () => {
    const { clock, chaos, breaker, replays } = await openBreaker()
    await settle(breaker.delete('app:a'))
    chaos.fail(['deleteMany'])
    const states: string[] = []
    breaker.on('state:change', (e) => states.push(`${e.to}:${e.reason}`))
    await recover(clock)
    expect(states).toEqual(['half-open:reset-timeout', 'open:replay-failed'])
    expect(breaker.journalSize).toBe(1)
    expect(replays).toMatchObject([{ mode: 'probe', ok: false, applied: 0, remaining: 1 }])
    chaos.heal()
    await recover(clock)
    expect(breaker.state).toBe('closed')
    expect(breaker.journalSize).toBe(0)
  })

  test('a replay that fails midway keeps only what was not applied', async () => {
    const { clock, chaos, breaker, raw, replays } = await openBreaker()
    raw.set('app:users:1', entry('u'))
    await settle(breaker.clear('app:users'))
    await settle(breaker.delete('app:posts:1'))
    chaos.fail(['deleteMany'])
    await recover(clock)
    expect(breaker.state).toBe('open')
    expect(raw.get('app:users:1')).toBeUndefined()
    expect(replays).toMatchObject([{ ok: false, applied: 1, remaining: 1 }])
    expect(breaker.counters.replayed).toBe(1)
    chaos.heal()
    await recover(clock)
    expect(chaos.calls.clear).toBe(1)
    expect(replays[1]).toMatchObject({ ok: true, applied: 1, remaining: 0 })
  })

  test('a hung replay times out and reopens', async () => {
    const { clock, chaos, breaker } = await openBreaker({ timeout: 200 })
    await settle(breaker.delete('app:a'))
    chaos.hang(['deleteMany'])
    await clock.advance(RESET)
    expect(breaker.state).toBe('half-open')
    await clock.advance(200)
    expect(breaker.state).toBe('open')
    expect(breaker.counters.timeouts).toBe(1)
    chaos.heal()
    await recover(clock)
    expect(breaker.state).toBe('closed')
  })

  test('writes refused during the replay are replayed too before the breaker closes', async () => {
    const { clock, chaos, breaker, raw } = await openBreaker()
    raw.set('app:late', entry('old'))
    await settle(breaker.delete('app:a'))
    chaos.hang(['deleteMany'])
    await clock.advance(RESET)
    expect(await rejected(breaker.delete('app:late'))).toBe(true)
    chaos.heal()
    await flushMicrotasks()
    expect(breaker.state).toBe('closed')
    expect(raw.get('app:late')).toBeUndefined()
    expect(breaker.journalSize).toBe(0)
  })

  test('without deleteMany/setMany the replay uses single calls', async () => {
    const inner = memory()
    const plain: Store<unknown> = {
      name: 'plain',
      kind: 'memory',
      capabilities: {},
      get: (k) => inner.get(k),
      set: (k, e) => inner.set(k, e),
      delete: (k) => inner.delete(k),
      clear: (ns) => inner.clear(ns),
    }
    const { clock, chaos, breaker } = await openBreaker({}, plain)
    inner.set('app:a', entry('A'))
    for (let i = 0; i < 40; i++) await settle(breaker.delete(`app:${i}`))
    await settle(breaker.set('app:a', entry('A2')))
    await recover(clock)
    expect(breaker.state).toBe('closed')
    expect(chaos.calls.delete).toBe(40)
    expect(chaos.calls.set).toBe(1)
    expect(text(inner.get('app:a') as StoreEntry)).toBe('A2')
  })

  test('journal: false keeps nothing; the first call after resetTimeout is the probe', async () => {
    const { clock, breaker, raw } = await openBreaker({ journal: false })
    raw.set('app:a', entry('A'))
    await settle(breaker.delete('app:a'))
    expect(breaker.journalSize).toBe(0)
    await recover(clock)
    expect(breaker.state).toBe('half-open')
    expect(text(await breaker.get('app:a'))).toBe('A')
    expect(breaker.state).toBe('closed')
  })
})

describe('journal while closed', () => {
  /** A closed breaker whose store just failed one delete (below the threshold). */
  async function oneFailure() {
    const clock = new ManualClock(Date.now())
    const raw = memory()
    const chaos: ChaosStore<unknown> = chaosStore(asyncStore(raw))
    const breaker = withBreaker(chaos, {
      clock,
      failureThreshold: 5,
      resetTimeout: RESET,
      replayWrites: true,
    })
    raw.set('app:gone', entry('stale'))
    raw.set('app:kept', entry('kept'))
    chaos.fail(['delete'])
    expect((await settle(breaker.delete('app:gone'))).ok).toBe(false)
    chaos.heal()
    expect(breaker.state).toBe('closed')
    expect(breaker.journalSize).toBe(1)
    return { clock, chaos, breaker, raw }
  }

  test('a failed delete is answered from the journal, then drained after the next success', async () => {
    const { chaos, breaker, raw } = await oneFailure()
    const gets = chaos.calls.get ?? 0
    expect(await breaker.get('app:gone')).toBeUndefined()
    expect(await breaker.has('app:gone')).toBe(false)
    expect(chaos.calls.get ?? 0).toBe(gets) // answered without I/O
    expect((await breaker.getMany(['app:gone', 'app:kept'])).map(text)).toEqual([undefined, 'kept'])
    await flushMicrotasks()
    expect(raw.get('app:gone')).toBeUndefined()
    expect(breaker.journalSize).toBe(0)
  })

  test('with no traffic, a drain is retried after resetTimeout', async () => {
    const { clock, raw, breaker } = await oneFailure()
    await clock.advance(RESET)
    await flushMicrotasks()
    expect(raw.get('app:gone')).toBeUndefined()
    expect(breaker.journalSize).toBe(0)
  })

  test('writes to journaled keys queue behind the journal and keep their order', async () => {
    const { chaos, breaker, raw } = await oneFailure()
    chaos.hang(['deleteMany'])
    await breaker.get('app:kept') // a success starts the drain, which hangs
    await flushMicrotasks()
    const r = await settle(breaker.set('app:gone', entry('rewritten')))
    expect(r.ok).toBe(true)
    expect(text(await breaker.get('app:gone'))).toBe('rewritten')
    const c = await settle(breaker.clear('app'))
    expect(c.ok).toBe(true)
    expect(await breaker.get('app:kept')).toBeUndefined()
    await settle(breaker.set('app:after', entry('after clear')))
    chaos.heal()
    await flushMicrotasks()
    await flushMicrotasks()
    expect(breaker.journalSize).toBe(0)
    expect(raw.get('app:gone')).toBeUndefined()
    expect(raw.get('app:kept')).toBeUndefined()
    expect(text(raw.get('app:after') as StoreEntry)).toBe('after clear')
  })

  test('a failed drain counts as a failure and keeps the intents', async () => {
    const { chaos, breaker } = await oneFailure()
    chaos.fail(['deleteMany'])
    await breaker.get('app:kept')
    await flushMicrotasks()
    expect(breaker.journalSize).toBe(1)
    expect(breaker.counters.failures).toBe(2)
  })

  test('a late failure of an older write does not overwrite a newer intent', async () => {
    const clock = new ManualClock(Date.now())
    const raw = memory()
    const chaos = chaosStore(asyncStore(raw))
    const breaker = withBreaker(chaos, { clock, failureThreshold: 5, timeout: 100, replayWrites: true })
    chaos.hang(['set'])
    const slow = settle(breaker.set('app:k', entry('old write')))
    expect(await breaker.delete('app:k')).toBe(false)
    await clock.advance(100)
    expect((await slow).ok).toBe(false)
    // The delete was issued after the write: nothing to journal.
    expect(breaker.journalSize).toBe(0)
    chaos.heal()
  })
})
