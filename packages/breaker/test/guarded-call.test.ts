// The guarded-call helper alone: one way for callers' calls and replay calls to reach a store.
import { isTierCacheError, StoreError, ValueTooLargeError } from '@tiercache/core'
import { ManualClock } from '@tiercache/core/testing'
import { describe, expect, test } from 'vitest'
import { FAILED, IGNORED, NORMAL, type Outcome, PROBE, REPLAY, SUCCEEDED } from '../src/circuit.js'
import { CallGuard, type GuardedWrite } from '../src/guarded-call.js'
import { defaultIsFailure } from '../src/options.js'
import { timersOf } from '../src/timeout.js'
import { WriteOrder } from '../src/write-order.js'

/** A guard on a manual clock with a 100 ms timeout that logs what it reports. */
function guardOf(timeout = 100) {
  const clock = new ManualClock()
  const order = new WriteOrder()
  const log: string[] = []
  const names: Record<Outcome, string> = { [SUCCEEDED]: 'ok', [FAILED]: 'failed', [IGNORED]: 'ignored' }
  const guard = new CallGuard('redis', timeout, timersOf(clock), defaultIsFailure, order, {
    writeFailed: (write) => log.push(`journal ${write.seq} newer:${order.newerThan(write.seq - 1, 'k')}`),
    settled: (epoch, mode, outcome) => log.push(`settled ${epoch}/${mode} ${names[outcome]}`),
  })
  return { clock, order, log, guard }
}

function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const down = () => new StoreError('down', { store: 'redis', operation: 'set' })
const write = (seq: number): GuardedWrite => ({ seq, keys: ['k'], record: () => undefined })

describe('guarded call', () => {
  test('a synchronous answer is settled at once, untimed and untracked', () => {
    const { clock, log, guard, order } = guardOf()
    expect(guard.call('get', () => 42, 3, NORMAL, write(1))).toBe(42)
    expect(log).toEqual(['settled 3/1 ok'])
    expect(clock.pendingTimers).toBe(0)
    expect(order.newerThan(0, 'k')).toBe(false)
  })

  test('a synchronous throw is classified, journaled when it is a failed write, and rethrown', () => {
    const { log, guard } = guardOf()
    const error = down()
    expect(() => guard.call('set', () => thrower(error), 1, NORMAL, write(7))).toThrow(error)
    // Bad input says nothing about the store: not journaled, reported as ignored.
    const tooLarge = new ValueTooLargeError(10, 1, { store: 'redis', operation: 'set' })
    expect(() => guard.call('set', () => thrower(tooLarge), 1, PROBE, write(8))).toThrow(tooLarge)
    expect(log).toEqual(['journal 7 newer:false', 'settled 1/1 failed', 'settled 1/2 ignored'])
  })

  test('a promise settles with the store: the write is tracked while in flight, the timer cleared', async () => {
    const { clock, log, guard, order } = guardOf()
    const answer = deferred<string>()
    const call = guard.call('set', () => answer.promise, 2, NORMAL, write(5))
    expect(order.newerThan(4, 'k')).toBe(true)
    expect(clock.pendingTimers).toBe(1)
    answer.resolve('done')
    await expect(call).resolves.toBe('done')
    expect(log).toEqual(['settled 2/1 ok'])
    expect(clock.pendingTimers).toBe(0)
    expect(order.newerThan(4, 'k')).toBe(false)
  })

  test('a failed write is journaled while still tracked, then untracked, then settled', async () => {
    const { log, guard, order } = guardOf()
    const error = down()
    await expect(guard.call('set', () => Promise.reject(error), 2, NORMAL, write(5))).rejects.toBe(error)
    expect(log).toEqual(['journal 5 newer:true', 'settled 2/1 failed'])
    expect(order.newerThan(4, 'k')).toBe(false)
  })

  test('a store that never answers is settled at the timeout; its late answer is swallowed', async () => {
    const { clock, log, guard } = guardOf()
    const answer = deferred<string>()
    const call = guard.call('get', () => answer.promise, 1, NORMAL, undefined) as Promise<string>
    const caught = call.then(
      () => undefined,
      (error: unknown) => error,
    )
    await clock.advance(100)
    const error = await caught
    expect(isTierCacheError(error, 'E_STORE_TIMEOUT')).toBe(true)
    expect((error as { timeout: number }).timeout).toBe(100)
    expect(guard.timeouts).toBe(1)
    answer.reject(down())
    await Promise.resolve()
    expect(log).toEqual(['settled 1/1 failed'])
  })

  test('replay calls carry no journal callback: a failure is reported, never journaled again', async () => {
    const { log, guard } = guardOf()
    const error = down()
    await expect(
      guard.call('deleteMany', () => Promise.reject(error), 4, REPLAY, { seq: 9, keys: ['k'] }),
    ).rejects.toBe(error)
    expect(log).toEqual(['settled 4/3 failed'])
  })

  test('timeout Infinity sets no timer', async () => {
    const { clock, guard } = guardOf(Number.POSITIVE_INFINITY)
    const answer = deferred<number>()
    const call = guard.call('get', () => answer.promise, 1, NORMAL, undefined)
    expect(clock.pendingTimers).toBe(0)
    answer.resolve(1)
    await expect(call).resolves.toBe(1)
  })

  test('bounded calls (stats) time out like the others but are neither counted nor reported', async () => {
    const { clock, log, guard } = guardOf()
    const stats = guard.bounded(new Promise<never>(() => undefined), 'stats')
    const caught = stats.catch((error: unknown) => error)
    await clock.advance(100)
    expect(isTierCacheError(await caught, 'E_STORE_TIMEOUT')).toBe(true)
    expect(guard.timeouts).toBe(0)
    expect(log).toEqual([])
  })
})

function thrower(error: unknown): never {
  throw error
}
