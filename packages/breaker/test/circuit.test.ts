// The circuit state machine alone: outcomes in, transitions out, time from a manual clock.
import { ManualClock } from '@tiercache/core/testing'
import { describe, expect, test } from 'vitest'
import {
  Circuit,
  type CircuitSettings,
  CLOSED,
  FAILED,
  HALF_OPEN,
  IGNORED,
  NORMAL,
  OPEN,
  PROBE,
  REPLAY,
  STATE_NAMES,
  SUCCEEDED,
} from '../src/circuit.js'

const settings: CircuitSettings = {
  failureThreshold: 3,
  failureRatio: 0.5,
  window: 10_000,
  minimumCalls: 10,
  resetTimeout: 1000,
  halfOpenMaxCalls: 2,
}

/** A circuit on a manual clock that logs its transitions; it closes when every probe succeeded. */
function circuitOf(overrides: Partial<CircuitSettings> = {}) {
  const clock = new ManualClock()
  const moves: string[] = []
  let probesDone = 0
  const circuit: Circuit = new Circuit({ ...settings, ...overrides }, clock, {
    changed: (from, to, reason) => moves.push(`${STATE_NAMES[from]}>${STATE_NAMES[to]}:${reason}`),
    probesSucceeded: () => {
      probesDone++
      circuit.close()
    },
  })
  const fail = (mode: 1 | 2 | 3 = NORMAL) => circuit.settle(circuit.epoch, mode, FAILED, new Error('down'))
  const succeed = (mode: 1 | 2 | 3 = NORMAL) => circuit.settle(circuit.epoch, mode, SUCCEEDED, undefined)
  return { clock, circuit, moves, fail, succeed, probesDone: () => probesDone }
}

describe('circuit', () => {
  test('closed: admits every call; consecutive failures open it at the threshold, a success resets the run', () => {
    const { circuit, moves, fail, succeed } = circuitOf()
    expect(circuit.state).toBe(CLOSED)
    expect(circuit.admit(false)).toBe(NORMAL)
    fail()
    fail()
    expect(succeed()).toBe(true)
    fail()
    fail()
    expect(circuit.state).toBe(CLOSED)
    fail()
    expect(circuit.state).toBe(OPEN)
    expect(moves).toEqual(['closed>open:failure-threshold'])
    expect(circuit.opened).toBe(1)
    expect(circuit.failures).toBe(5)
    expect(circuit.successes).toBe(1)
  })

  test('open: refuses until resetTimeout by the clock, then the next admission half-opens and takes a probe', async () => {
    const { clock, circuit, moves, fail } = circuitOf({ failureThreshold: 1 })
    fail()
    const openedAt = clock.now()
    expect(circuit.retryAt).toBe(openedAt + 1000)
    expect(circuit.refusing()).toBe(true)
    expect(circuit.admit(false)).toBe(0)
    await clock.advance(999)
    expect(circuit.admit(false)).toBe(0)
    await clock.advance(1)
    expect(circuit.refusing()).toBe(false)
    expect(circuit.admit(false)).toBe(PROBE)
    expect(circuit.state).toBe(HALF_OPEN)
    expect(moves).toEqual(['closed>open:failure-threshold', 'open>half-open:reset-timeout'])
  })

  test('half-open: admits halfOpenMaxCalls probes; when all succeed the owner is told and closes it', () => {
    const { circuit, moves, fail, succeed, probesDone } = circuitOf({ failureThreshold: 1 })
    fail()
    circuit.halfOpen()
    expect(circuit.admit(false)).toBe(PROBE)
    expect(circuit.admit(false)).toBe(PROBE)
    expect(circuit.admit(false)).toBe(0)
    succeed(PROBE)
    expect(probesDone()).toBe(0)
    succeed(PROBE)
    expect(probesDone()).toBe(1)
    expect(circuit.state).toBe(CLOSED)
    expect(circuit.closed).toBe(1)
    expect(moves.at(-1)).toBe('half-open>closed:probes-succeeded')
    expect(circuit.admit(true)).toBe(NORMAL)
  })

  test('half-open: a failed probe reopens it for another resetTimeout; an ignored one gives its slot back', async () => {
    const { clock, circuit, moves, fail } = circuitOf({ failureThreshold: 1, halfOpenMaxCalls: 1 })
    fail()
    circuit.halfOpen()
    // A call that must not be a probe is refused even with a slot free.
    expect(circuit.admit(true)).toBe(0)
    expect(circuit.admit(false)).toBe(PROBE)
    expect(circuit.admit(false)).toBe(0)
    circuit.settle(circuit.epoch, PROBE, IGNORED, new Error('bad input'))
    expect(circuit.admit(false)).toBe(PROBE)
    fail(PROBE)
    expect(circuit.state).toBe(OPEN)
    expect(moves.at(-1)).toBe('half-open>open:probe-failed')
    expect(circuit.retryAt).toBe(clock.now() + 1000)
    expect(circuit.opened).toBe(2)
  })

  test('outcomes of calls admitted in an earlier epoch are counted but change nothing', () => {
    const { circuit, fail } = circuitOf({ failureThreshold: 1 })
    const before = circuit.epoch
    fail()
    circuit.halfOpen()
    expect(circuit.admit(false)).toBe(PROBE)
    // A slow call from the closed period fails late: the half-open circuit is not reopened.
    expect(circuit.settle(before, NORMAL, FAILED, new Error('late'))).toBe(false)
    expect(circuit.state).toBe(HALF_OPEN)
    // Nor does a late success count as a probe.
    circuit.settle(before, NORMAL, SUCCEEDED, undefined)
    expect(circuit.state).toBe(HALF_OPEN)
    expect(circuit.failures).toBe(2)
    expect(circuit.successes).toBe(1)
  })

  test('hold: while the owner replays as the first probe every call is refused; release lets probes in', () => {
    const { circuit, fail, succeed } = circuitOf({ failureThreshold: 1, halfOpenMaxCalls: 2 })
    fail()
    circuit.halfOpen()
    circuit.hold(true)
    expect(circuit.admit(false)).toBe(0)
    // Replay calls are only counted: they never decide.
    fail(REPLAY)
    expect(circuit.state).toBe(HALF_OPEN)
    circuit.release()
    circuit.probeSucceeded()
    // The replay took the first slot: one probe left.
    expect(circuit.admit(false)).toBe(PROBE)
    expect(circuit.admit(false)).toBe(0)
    succeed(PROBE)
    expect(circuit.state).toBe(CLOSED)
  })

  test('the failure ratio over the rolling window opens it once minimumCalls finished', async () => {
    const { circuit, moves, fail, succeed } = circuitOf({ failureThreshold: 100 })
    // 9 calls, 5 failures: below minimumCalls, stays closed.
    for (let i = 0; i < 4; i++) {
      succeed()
      fail()
    }
    fail()
    expect(circuit.state).toBe(CLOSED)
    // The 10th call succeeds: 5/10 failures, but only a failure checks the ratio.
    succeed()
    expect(circuit.state).toBe(CLOSED)
    fail()
    expect(circuit.state).toBe(OPEN)
    expect(moves).toEqual(['closed>open:failure-ratio'])
  })

  test('calls older than the window drop out of the ratio', async () => {
    const { clock, circuit, fail, succeed } = circuitOf({ failureThreshold: 100 })
    for (let i = 0; i < 8; i++) fail()
    succeed()
    // 10 s later the 8 failures have left the window: 5 calls, 1 failure, below minimumCalls.
    // (Still counted, they would make 14 calls with 9 failures, and open it.)
    await clock.advance(11_000)
    for (let i = 0; i < 4; i++) succeed()
    fail()
    expect(circuit.state).toBe(CLOSED)
    for (let i = 0; i < 4; i++) fail()
    expect(circuit.state).toBe(CLOSED)
    // 10 calls in the window, 6 failures.
    fail()
    expect(circuit.state).toBe(OPEN)
  })

  test('closing starts afresh: the run of failures and the window are forgotten', () => {
    const { circuit, fail, succeed } = circuitOf({ failureThreshold: 2, halfOpenMaxCalls: 1 })
    fail()
    fail()
    circuit.halfOpen()
    circuit.admit(false)
    succeed(PROBE)
    expect(circuit.state).toBe(CLOSED)
    fail()
    expect(circuit.state).toBe(CLOSED)
    fail()
    expect(circuit.state).toBe(OPEN)
  })

  test('the synchronous fast path counts a success and resets the run without an epoch', () => {
    const { circuit, fail } = circuitOf({ failureThreshold: 2 })
    fail()
    circuit.succeeded()
    fail()
    expect(circuit.state).toBe(CLOSED)
    expect(circuit.successes).toBe(1)
  })

  test('halfOpen is a no-op unless open', () => {
    const { circuit, moves } = circuitOf()
    circuit.halfOpen()
    expect(circuit.state).toBe(CLOSED)
    expect(moves).toEqual([])
  })
})
