import {
  InvalidOptionError,
  isTierCacheError,
  type Store,
  StoreError,
  StoreTimeoutError,
  ValueTooLargeError,
} from '@tiercache/core'
import { chaosStore, ManualClock } from '@tiercache/core/testing'
import { settle } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { type BreakerOptions, CircuitOpenError, type StateChangeEvent, withBreaker } from '../src/index.js'
import { asyncStore, entry, memory, text } from './helpers.js'

/** An async store wrapped in chaos, behind a breaker on a manual clock. */
function setup(options: BreakerOptions = {}) {
  const clock = new ManualClock()
  const chaos = chaosStore(asyncStore(memory()))
  const breaker = withBreaker(chaos, { clock, journal: false, ...options })
  const events: StateChangeEvent[] = []
  breaker.on('state:change', (e) => events.push(e))
  const transitions = () => events.map((e) => `${e.from}->${e.to}:${e.reason}`)
  return { clock, chaos, breaker, events, transitions }
}

async function failTimes(store: Store<unknown>, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await settle(store.get(`ns:f${i}`))
}

describe('closed', () => {
  test('forwards the wrapped store identity and calls', async () => {
    const inner = memory()
    const clock = new ManualClock()
    const breaker = withBreaker(inner, { clock })
    expect(breaker.name).toBe('memory')
    expect(breaker.kind).toBe('memory')
    expect(breaker.capabilities).toBe(inner.capabilities)
    expect(breaker.maxEntryBytes).toBe(inner.maxEntryBytes)
    expect(breaker.maxTtl).toBe(inner.maxTtl)
    expect(breaker.inner).toBe(inner)
    expect(breaker.state).toBe('closed')
    await breaker.set('ns:a', entry('A'))
    expect(text(await breaker.get('ns:a'))).toBe('A')
    expect(await breaker.has('ns:a')).toBe(true)
    expect((await breaker.getMany(['ns:a', 'ns:b'])).map(text)).toEqual(['A', undefined])
    expect(await breaker.delete('ns:a')).toBe(true)
    expect(await breaker.get('ns:a')).toBeUndefined()
  })

  test('a synchronous store stays synchronous: get returns the entry, not a promise', () => {
    const clock = new ManualClock(Date.now())
    const breaker = withBreaker(memory(), { clock })
    breaker.set('ns:a', entry('A'))
    const got = breaker.get('ns:a')
    expect(got instanceof Promise).toBe(false)
    expect(text(got as never)).toBe('A')
    expect(breaker.counters.successes).toBe(2)
  })

  test(`opens after failureThreshold consecutive failures; a success resets the count`, async () => {
    const { chaos, breaker, transitions, events } = setup({ failureThreshold: 3 })
    chaos.fail()
    await failTimes(breaker, 2)
    chaos.heal()
    await breaker.get('ns:ok')
    chaos.fail()
    await failTimes(breaker, 2)
    expect(breaker.state).toBe('closed')
    await failTimes(breaker, 1)
    expect(breaker.state).toBe('open')
    expect(transitions()).toEqual(['closed->open:failure-threshold'])
    expect(isTierCacheError(events[0]?.error, 'E_STORE')).toBe(true)
    expect(breaker.counters).toMatchObject({ opened: 1, failures: 5, successes: 1 })
  })

  test('opens on the failure ratio over the window once minimumCalls finished', async () => {
    const { chaos, breaker, transitions } = setup({
      failureThreshold: Number.POSITIVE_INFINITY,
      failureRatio: 0.5,
      minimumCalls: 10,
    })
    // 4 successes and 5 failures: 9 calls, under the minimum.
    for (let i = 0; i < 4; i++) await breaker.get('ns:x')
    chaos.fail()
    await failTimes(breaker, 5)
    expect(breaker.state).toBe('closed')
    // The 10th call fails: 6/10 >= 0.5.
    await failTimes(breaker, 1)
    expect(breaker.state).toBe('open')
    expect(transitions()).toEqual(['closed->open:failure-ratio'])
  })

  test('stays closed while the ratio is below failureRatio', async () => {
    const { chaos, breaker } = setup({
      failureThreshold: Number.POSITIVE_INFINITY,
      failureRatio: 0.5,
      minimumCalls: 10,
    })
    for (let round = 0; round < 10; round++) {
      chaos.heal()
      await breaker.get('ns:x')
      await breaker.get('ns:x')
      chaos.fail()
      await failTimes(breaker, 1)
    }
    expect(breaker.state).toBe('closed')
    expect(breaker.counters.failures).toBe(10)
  })

  test('failures older than the window are forgotten', async () => {
    const { clock, chaos, breaker } = setup({
      failureThreshold: Number.POSITIVE_INFINITY,
      failureRatio: 0.5,
      minimumCalls: 4,
      window: '10s',
    })
    chaos.fail()
    await failTimes(breaker, 3)
    await clock.advance(10_001)
    chaos.heal()
    await breaker.get('ns:x')
    chaos.fail()
    await failTimes(breaker, 1)
    // Within the window: 1 success and 1 failure (2 calls < minimumCalls 4).
    expect(breaker.state).toBe('closed')
    await failTimes(breaker, 2)
    // Now 1 success and 3 failures within 10 s: 4 calls, ratio 0.75.
    expect(breaker.state).toBe('open')
  })

  test('errors that say nothing about the store (value too large) do not count', async () => {
    const clock = new ManualClock()
    const tooLarge: Store<Uint8Array> = {
      ...asyncStore(memory() as Store<Uint8Array>),
      set: async () => {
        throw new ValueTooLargeError(10, 5, { store: 'remote', operation: 'set' })
      },
    }
    const breaker = withBreaker(tooLarge, { clock, failureThreshold: 1 })
    const r = await settle(breaker.set('ns:a', entry('0123456789')))
    expect(r.ok).toBe(false)
    expect(breaker.state).toBe('closed')
    expect(breaker.counters.failures).toBe(0)
    expect(breaker.journalSize).toBe(0)
  })

  test('isFailure decides what counts', async () => {
    const { chaos, breaker } = setup({ failureThreshold: 1, isFailure: () => false })
    chaos.fail()
    await failTimes(breaker, 3)
    expect(breaker.state).toBe('closed')
  })
})

describe('open', () => {
  test('fails fast with CircuitOpenError and does no I/O', async () => {
    const { chaos, breaker, clock } = setup({ failureThreshold: 2, resetTimeout: '30s' })
    chaos.fail()
    await failTimes(breaker, 2)
    chaos.heal()
    const before = { ...chaos.calls }
    const results = await Promise.all([
      settle(breaker.get('ns:a')),
      settle(breaker.getMany(['ns:a'])),
      settle(breaker.has('ns:a')),
      settle(breaker.set('ns:a', entry('A'))),
      settle(breaker.setMany([['ns:a', entry('A')]])),
      settle(breaker.delete('ns:a')),
      settle(breaker.deleteMany(['ns:a'])),
      settle(breaker.deleteByPattern('ns:*')),
      settle(breaker.clear('ns')),
    ])
    expect(chaos.calls).toEqual(before)
    const ops = [
      'get',
      'getMany',
      'has',
      'set',
      'setMany',
      'delete',
      'deleteMany',
      'deleteByPattern',
      'clear',
    ]
    for (const [i, r] of results.entries()) {
      expect(r.ok).toBe(false)
      const error = (r as { error: CircuitOpenError }).error
      expect(error).toBeInstanceOf(CircuitOpenError)
      expect(error).toBeInstanceOf(StoreError)
      expect(isTierCacheError(error, 'E_CIRCUIT_OPEN')).toBe(true)
      expect(error.store).toBe('remote')
      expect(error.operation).toBe(ops[i])
      expect(error.retryAt).toBe(clock.now() + 30_000)
    }
    expect(breaker.counters.rejections).toBe(9)
  })

  test('CircuitOpenError carries no stack frames (cheap to build)', () => {
    const error = new CircuitOpenError('redis', 'get', 1)
    expect(error.stack?.split('\n')).toHaveLength(1)
    expect(error.message).toBe('circuit open: redis get refused without I/O')
    expect(error.name).toBe('CircuitOpenError')
    // The global limit is restored.
    expect(new Error('x').stack?.split('\n').length).toBeGreaterThan(1)
  })

  test('one refusal error per operation is reused within an open period', async () => {
    const { clock, chaos, breaker } = setup({ failureThreshold: 1, resetTimeout: 1000 })
    chaos.fail()
    await failTimes(breaker, 1)
    const a = (await settle(breaker.get('ns:a'))) as { error: CircuitOpenError }
    const b = (await settle(breaker.get('ns:b'))) as { error: CircuitOpenError }
    const c = (await settle(breaker.set('ns:b', entry('b')))) as { error: CircuitOpenError }
    expect(a.error).toBe(b.error)
    expect(c.error).not.toBe(a.error)
    expect(c.error.operation).toBe('set')
    await clock.advance(1000)
    await failTimes(breaker, 1) // the probe fails: a new open period
    const d = (await settle(breaker.get('ns:a'))) as { error: CircuitOpenError }
    expect(d.error).not.toBe(a.error)
    expect(d.error.retryAt).toBe(clock.now() + 1000)
  })

  test('onStatusChange is forwarded only when the wrapped store has it', () => {
    expect(withBreaker(memory()).onStatusChange).toBeUndefined()
    const seen: boolean[] = []
    const withStatus: Store<unknown> = {
      ...asyncStore(memory()),
      onStatusChange: (listener) => {
        listener(false)
        return () => seen.push(true)
      },
    }
    const breaker = withBreaker(withStatus)
    const off = breaker.onStatusChange!((up) => seen.push(up))
    off()
    expect(seen).toEqual([false, true])
  })

  test('stats() does no I/O while open and reports connected: false', async () => {
    const { chaos, breaker } = setup({ failureThreshold: 1 })
    expect(await breaker.stats()).toMatchObject({ entries: 0 })
    chaos.fail(['get'])
    await failTimes(breaker, 1)
    const calls = chaos.calls.stats
    expect(await breaker.stats()).toMatchObject({ entries: 0, connected: false })
    expect(chaos.calls.stats).toBe(calls)
  })

  test('close() is forwarded whatever the state', async () => {
    let closed = 0
    const chaos = chaosStore({
      ...asyncStore(memory()),
      close: () => {
        closed++
      },
    })
    const breaker = withBreaker(chaos, { clock: new ManualClock(), failureThreshold: 1 })
    chaos.fail()
    await failTimes(breaker, 1)
    expect(breaker.state).toBe('open')
    await breaker.close()
    expect(closed).toBe(1)
  })
})

describe('half-open', () => {
  test('after resetTimeout one probe goes through; its success closes the breaker', async () => {
    const { clock, chaos, breaker, transitions } = setup({ failureThreshold: 1, resetTimeout: 1000 })
    chaos.fail()
    await failTimes(breaker, 1)
    await clock.advance(999)
    expect(breaker.state).toBe('open')
    await clock.advance(1)
    expect(breaker.state).toBe('half-open')
    chaos.heal()
    chaos.hang(['get'])
    const probe = breaker.get('ns:a')
    // While the probe runs, other calls fail fast.
    const other = await settle(breaker.get('ns:b'))
    expect((other as { error: unknown }).error).toBeInstanceOf(CircuitOpenError)
    expect((other as { error: CircuitOpenError }).error.retryAt).toBeUndefined()
    chaos.heal()
    expect(await probe).toBeUndefined()
    expect(breaker.state).toBe('closed')
    expect(transitions()).toEqual([
      'closed->open:failure-threshold',
      'open->half-open:reset-timeout',
      'half-open->closed:probes-succeeded',
    ])
    expect(breaker.counters).toMatchObject({ opened: 1, closed: 1 })
  })

  test('a failed probe reopens the breaker for another resetTimeout', async () => {
    const { clock, chaos, breaker, transitions } = setup({ failureThreshold: 1, resetTimeout: 1000 })
    chaos.fail()
    await failTimes(breaker, 1)
    await clock.advance(1000)
    await failTimes(breaker, 1)
    expect(breaker.state).toBe('open')
    await clock.advance(999)
    expect(breaker.state).toBe('open')
    await clock.advance(1)
    expect(breaker.state).toBe('half-open')
    expect(transitions()).toEqual([
      'closed->open:failure-threshold',
      'open->half-open:reset-timeout',
      'half-open->open:probe-failed',
      'open->half-open:reset-timeout',
    ])
  })

  test('halfOpenMaxCalls probes go through; the breaker closes when all of them succeeded', async () => {
    const { clock, chaos, breaker } = setup({ failureThreshold: 1, resetTimeout: 1000, halfOpenMaxCalls: 2 })
    chaos.fail()
    await failTimes(breaker, 1)
    await clock.advance(1000)
    chaos.heal()
    chaos.hang(['get'])
    const probes = [breaker.get('ns:a'), breaker.get('ns:b')]
    const third = await settle(breaker.get('ns:c'))
    expect((third as { error: unknown }).error).toBeInstanceOf(CircuitOpenError)
    expect(chaos.calls.get).toBe(3) // the failure, then two probes
    chaos.heal()
    await Promise.all(probes)
    expect(breaker.state).toBe('closed')
  })

  test('with halfOpenMaxCalls 2, one successful probe is not enough', async () => {
    const { clock, chaos, breaker } = setup({ failureThreshold: 1, resetTimeout: 1000, halfOpenMaxCalls: 2 })
    chaos.fail()
    await failTimes(breaker, 1)
    await clock.advance(1000)
    chaos.heal()
    await breaker.get('ns:a')
    expect(breaker.state).toBe('half-open')
    await breaker.get('ns:b')
    expect(breaker.state).toBe('closed')
  })

  test('one failed probe among several reopens the breaker', async () => {
    const { clock, chaos, breaker } = setup({ failureThreshold: 1, resetTimeout: 1000, halfOpenMaxCalls: 3 })
    chaos.fail()
    await failTimes(breaker, 1)
    await clock.advance(1000)
    chaos.heal()
    await breaker.get('ns:a')
    expect(breaker.state).toBe('half-open')
    chaos.fail()
    await failTimes(breaker, 1)
    expect(breaker.state).toBe('open')
  })

  test('the lazy check half-opens even if the timer has not fired yet', async () => {
    const clock = new ManualClock()
    const chaos = chaosStore(asyncStore(memory()))
    const breaker = withBreaker(chaos, { clock, failureThreshold: 1, resetTimeout: 1000, journal: false })
    chaos.fail()
    await failTimes(breaker, 1)
    clock.set(clock.now() + 1000) // time moves, timers do not fire
    chaos.heal()
    expect(await breaker.get('ns:a')).toBeUndefined()
    expect(breaker.state).toBe('closed')
  })
})

describe('timeouts', () => {
  test('a hung call rejects with StoreTimeoutError at the timeout and counts as a failure', async () => {
    const { clock, chaos, breaker } = setup({ timeout: '200ms', failureThreshold: 2 })
    chaos.hang()
    const pending = settle(breaker.get('ns:a'))
    let done = false
    void pending.then(() => {
      done = true
    })
    await clock.advance(199)
    expect(done).toBe(false)
    await clock.advance(1)
    const r = await pending
    expect(r.ok).toBe(false)
    const error = (r as { error: StoreTimeoutError }).error
    expect(error).toBeInstanceOf(StoreTimeoutError)
    expect(error.code).toBe('E_STORE_TIMEOUT')
    expect(error.timeout).toBe(200)
    expect(error.operation).toBe('get')
    expect(breaker.counters).toMatchObject({ timeouts: 1, failures: 1 })
    // Two hung calls open the breaker; healing later releases them without effect.
    const second = settle(breaker.set('ns:b', entry('B')))
    await clock.advance(200)
    await second
    expect(breaker.state).toBe('open')
    chaos.heal()
    await clock.advance(0)
    expect(breaker.state).toBe('open')
    expect(breaker.counters.successes).toBe(0)
  })

  test('callTimeout is the per-call limit (timeout is its former name; the seed’s timeout is resetTimeout)', async () => {
    const { clock, chaos, breaker } = setup({
      callTimeout: '200ms',
      resetTimeout: '60s',
      failureThreshold: 5,
    })
    chaos.hang()
    const pending = settle(breaker.get('ns:a'))
    await clock.advance(200)
    const r = await pending
    expect((r as { error: StoreTimeoutError }).error.timeout).toBe(200)
  })

  test('a late rejection after the timeout is swallowed (no unhandled rejection)', async () => {
    const clock = new ManualClock()
    let rejectLater: (e: unknown) => void = () => {}
    const inner: Store<unknown> = {
      ...memory(),
      name: 'late',
      kind: 'remote',
      capabilities: {},
      get: () =>
        new Promise((_, reject) => {
          rejectLater = reject
        }),
      set: () => undefined,
      delete: () => true,
      clear: () => undefined,
    }
    const breaker = withBreaker(inner, { clock, timeout: 50 })
    const r = settle(breaker.get('k'))
    await clock.advance(50)
    expect((await r).ok).toBe(false)
    rejectLater(new Error('connection reset, much later'))
    await new Promise((resolve) => setImmediate(resolve))
    expect(breaker.counters.failures).toBe(1)
  })

  test("timeout: 'forever' sets no timer", async () => {
    const { clock, chaos, breaker } = setup({ timeout: 'forever' })
    chaos.hang()
    const pending = breaker.get('ns:a')
    expect(clock.pendingTimers).toBe(0)
    chaos.heal()
    expect(await pending).toBeUndefined()
  })

  test('stats() is bounded by the timeout too', async () => {
    const { clock, chaos, breaker } = setup({ timeout: 100 })
    chaos.hang(['stats'])
    const r = settle(breaker.stats())
    await clock.advance(100)
    expect((await r).ok).toBe(false)
    expect(breaker.state).toBe('closed')
    expect(breaker.counters.failures).toBe(0)
  })
})

describe('events and epochs', () => {
  test('listener exceptions are ignored; off() removes a listener', async () => {
    const { chaos, breaker } = setup({ failureThreshold: 1 })
    const seen: string[] = []
    const listener = (e: StateChangeEvent) => seen.push(e.to)
    breaker.on('state:change', () => {
      throw new Error('bad listener')
    })
    breaker.on('state:change', listener)
    breaker.off('state:change', listener)
    chaos.fail()
    await failTimes(breaker, 1)
    expect(breaker.state).toBe('open')
    expect(seen).toEqual([])
    // @ts-expect-error an event the breaker does not emit
    expect(() => breaker.on('nope', () => {})).toThrow(InvalidOptionError)
  })

  test('stateChange is a deprecated alias of state:change: one listener set, one call per change', async () => {
    const { chaos, breaker } = setup({ failureThreshold: 1 })
    const seen: string[] = []
    const both = (e: StateChangeEvent) => seen.push(`both:${e.to}`)
    breaker.on('stateChange', (e) => seen.push(`old:${e.to}`))
    breaker.on('state:change', both)
    // Added twice under its two names: still one listener.
    breaker.on('stateChange', both)
    const removed = (e: StateChangeEvent) => seen.push(`removed:${e.to}`)
    breaker.on('state:change', removed)
    breaker.off('stateChange', removed)
    chaos.fail()
    await failTimes(breaker, 1)
    expect(seen).toEqual(['old:open', 'both:open'])
  })

  test('a call admitted before the breaker opened does not change the state when it ends', async () => {
    const { clock, chaos, breaker } = setup({ failureThreshold: 1, resetTimeout: 1000, timeout: 5000 })
    chaos.hang()
    const slow = breaker.get('ns:slow')
    chaos.fail(['set'])
    await settle(breaker.set('ns:x', entry('x')))
    expect(breaker.state).toBe('open')
    await clock.advance(1000)
    expect(breaker.state).toBe('half-open')
    chaos.heal() // releases the old get: it succeeds, but it is no probe
    await slow
    expect(breaker.state).toBe('half-open')
  })
})

describe('options', () => {
  const store = memory()
  test.each([
    [{ failureThreshold: 0 }],
    [{ failureThreshold: 1.5 }],
    [{ failureRatio: 0 }],
    [{ failureRatio: 1.1 }],
    [{ minimumCalls: -1 }],
    [{ window: 0 }],
    [{ window: 'forever' }],
    [{ resetTimeout: 0 }],
    [{ halfOpenMaxCalls: 0 }],
    [{ halfOpenMaxCalls: Number.POSITIVE_INFINITY }],
    [{ timeout: 0 }],
    [{ callTimeout: 0 }],
    [{ callTimeout: '1s', timeout: '1s' }],
    [{ journal: { maxEntries: 0 } }],
    [{ journal: 'yes' }],
    [{ isFailure: 'no' }],
    [{ clock: {} }],
  ])('rejects %j', (options) => {
    expect(() => withBreaker(store, options as never)).toThrow(
      expect.objectContaining({ code: expect.stringMatching(/^E_INVALID_(OPTION|DURATION)$/) }),
    )
  })

  test('rejects something that is not a store', () => {
    expect(() => withBreaker({} as never)).toThrow(InvalidOptionError)
  })

  test('accepts durations as strings and Infinity to turn a rule off', () => {
    const b = withBreaker(store, {
      window: '1m',
      resetTimeout: '1h30m',
      timeout: '250ms',
      failureThreshold: Number.POSITIVE_INFINITY,
      minimumCalls: Number.POSITIVE_INFINITY,
    })
    expect(b.state).toBe('closed')
  })
})
