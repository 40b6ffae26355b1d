/**
 * Times cache operations from core's `node:diagnostics_channel` tracing channels, within a
 * budget of operations per second.
 *
 * Why a budget: tracing is all or nothing per process. While anything subscribes to
 * `tiercache:get`, every `get` of every cache runs through `TracingChannel.tracePromise` (an
 * extra promise, a closure and four publishes: about four times the cost of an L1 hit). So the
 * timer subscribes while it has budget left in the current second and unsubscribes when it runs
 * out. Below the budget every operation is timed; above it, one window of `maxPerSecond`
 * consecutive operations is timed each second, opening at a random moment of the second.
 *
 * Every recorded duration is a real measurement of one operation, from the `start` publish to
 * the moment its result is known: the end of the synchronous call for an L1 hit (the value is
 * in hand), the settlement of the promise otherwise.
 *
 * The tracing context says only the root namespace, so an operation is recorded only when its
 * cache confirms it with one of its own events (`hit`, `miss`, `collapse`, `stale`, `set`,
 * `delete`, `delete:pattern`, `invalidate:tags`, `clear`, `error`); those events also give the
 * level and outcome. An operation that ends without one (another cache of the same root
 * namespace, or a call that failed before touching a tier) is not recorded. The listeners are
 * attached only while the timer is subscribed.
 *
 * @module
 */
import type { TracingChannelSubscribers } from 'node:diagnostics_channel'
import { type Cache, type CacheEventName, type CacheEvents, channels } from '@tiercache/core'

/** The operations core traces. */
export type TimedOperation =
  | 'get'
  | 'getOrSet'
  | 'set'
  | 'delete'
  | 'deleteByPattern'
  | 'invalidateTags'
  | 'clear'

/** Every operation core traces, in channel order. */
export const TIMED_OPERATIONS: readonly TimedOperation[] = [
  'get',
  'getOrSet',
  'set',
  'delete',
  'deleteByPattern',
  'invalidateTags',
  'clear',
]

/** A cache whose operations are timed. */
export interface TimingTarget {
  /** The cache, to listen to its events while timing. */
  readonly cache: Pick<Cache, 'on' | 'off'>
  /** Its root namespace (what the tracing context carries). */
  readonly root: string
  /** The level of its last tier: the level of misses, loads and writes. */
  readonly lastLevel: string
  /** Records one measured operation. */
  observe(operation: TimedOperation, level: string, outcome: string, seconds: number): void
  /** Counts operations that were being timed when the timer had to stop. */
  dropped(count: number): void
}

interface TraceContext {
  readonly key?: unknown
  readonly pattern?: unknown
  readonly namespace?: unknown
  readonly error?: unknown
  [mark: symbol]: Timed | undefined
}

/** Which events confirm an operation: reads, sets, deletes, pattern deletes, tags, clears. */
type Kind = 'r' | 's' | 'd' | 'p' | 't' | 'c'

/** One operation being timed. */
interface Timed {
  readonly op: TimedOperation
  readonly kind: Kind
  /** The key, pattern or namespace path its confirming event names (`''` for tags). */
  readonly key: string
  readonly target: TargetState
  /** The outer operation whose synchronous section this one runs in. */
  readonly prev: Timed | undefined
  t0: number
  confirmed: boolean
  level: string | undefined
  outcome: string | undefined
  /** Answered within the synchronous call (an L1 hit): ends at the `end` publish. */
  sync: boolean
  /** Still running after its synchronous call: waits in `pending`. */
  waiting: boolean
  done: boolean
}

interface TargetState {
  readonly target: TimingTarget
  /** Operations still running after their synchronous call, by kind + key, oldest first. */
  readonly pending: Map<string, Timed[]>
  readonly listeners: readonly [CacheEventName, (event: any) => void][]
  attached: boolean
  /**
   * L1 answers synchronously (a memory store): seen once a level-1 hit arrived inside a timed
   * call. From then on a level-1 hit outside one belongs to an untimed call.
   */
  syncL1: boolean
}

/**
 * The handlers the timer subscribes: only `start`, `end` and `asyncStart` (Node skips the
 * events a subscriber object has no handler for), so `asyncEnd` and `error` publish to nobody.
 */
type Handlers = TracingChannelSubscribers<object>

const IDLE = 0
const OPEN = 1
const DRAINING = 2

function rootOf(namespace: unknown): string | undefined {
  if (typeof namespace !== 'string') return undefined
  const i = namespace.indexOf(':')
  return i < 0 ? namespace : namespace.slice(0, i)
}

const KIND: Readonly<Record<TimedOperation, Kind>> = {
  get: 'r',
  getOrSet: 'r',
  set: 's',
  delete: 'd',
  deleteByPattern: 'p',
  invalidateTags: 't',
  clear: 'c',
}

function keyOf(kind: Kind, ctx: TraceContext): string {
  const key = kind === 'p' ? ctx.pattern : kind === 'c' ? ctx.namespace : kind === 't' ? '' : ctx.key
  return typeof key === 'string' ? key : String(key)
}

/** Error-event operations that confirm a write, and the kind of that write. */
const ERROR_KIND: Readonly<Record<string, Kind>> = {
  set: 's',
  delete: 'd',
  deleteByPattern: 'p',
  invalidateTags: 't',
  clear: 'c',
}

const unconfirmed = (rec: Timed): boolean => !rec.confirmed

/**
 * Subscribes to core's tracing channels within a per-second budget and reports each confirmed
 * operation to its {@link TimingTarget}.
 */
export class OperationTimer {
  readonly #max: number
  readonly #mark: symbol = Symbol('tiercache.metrics.timed')
  readonly #targets = new Map<string, TargetState>()
  readonly #subscriptions: readonly [(typeof channels)[TimedOperation], Handlers][]
  /** Operations timed that are still running after their synchronous call. */
  readonly #waiting = new Set<Timed>()
  #state = IDLE
  /** Operations seen while open in the current second. */
  #passed = 0
  /** Operations seen while draining. */
  #drainPassed = 0
  /** The timed operation whose synchronous call is running. */
  #current: Timed | undefined
  #ticker: ReturnType<typeof setInterval> | undefined
  #reopen: ReturnType<typeof setTimeout> | undefined

  /** @param maxPerSecond - budget of timed operations per second (`Infinity`: all) */
  constructor(maxPerSecond: number) {
    this.#max = maxPerSecond
    this.#subscriptions = TIMED_OPERATIONS.map((op) => [
      channels[op],
      {
        start: (ctx: object) => this.#start(op, ctx as TraceContext),
        end: (ctx: object) => this.#end(ctx as TraceContext),
        asyncStart: (ctx: object) => this.#asyncStart(ctx as TraceContext),
      } as Handlers,
    ])
  }

  /** True while subscribed to the tracing channels. */
  get subscribed(): boolean {
    return this.#state !== IDLE
  }

  /** Starts timing a cache's operations. */
  add(target: TimingTarget): void {
    const state: TargetState = {
      target,
      pending: new Map(),
      listeners: this.#listenersFor(target),
      attached: false,
      syncL1: false,
    }
    this.#targets.set(target.root, state)
    if (this.#state !== IDLE) this.#attach(state)
    else if (this.#ticker === undefined) this.#open()
    if (this.#ticker === undefined && Number.isFinite(this.#max)) {
      this.#ticker = setInterval(() => this.#tick(), 1000)
      this.#ticker.unref?.()
    }
  }

  /** Stops timing a cache; with no cache left, unsubscribes and stops the timers. */
  remove(target: TimingTarget): void {
    const state = this.#targets.get(target.root)
    if (state === undefined || state.target !== target) return
    this.#targets.delete(target.root)
    this.#detach(state)
    for (const rec of [...this.#waiting]) if (rec.target === state) this.#discard(rec)
    if (this.#current?.target === state) this.#current = undefined
    if (this.#targets.size > 0) {
      if (this.#state === DRAINING && this.#waiting.size === 0) this.#idle()
      return
    }
    if (this.#ticker !== undefined) clearInterval(this.#ticker)
    if (this.#reopen !== undefined) clearTimeout(this.#reopen)
    this.#ticker = undefined
    this.#reopen = undefined
    this.#idle()
  }

  // ------------------------------------------------------------------------------ budget

  #tick(): void {
    this.#passed = 0
    if (this.#state === OPEN || this.#reopen !== undefined) return
    // The budget ran out last second: open one window at a random moment of this one.
    this.#reopen = setTimeout(
      () => {
        this.#reopen = undefined
        this.#open()
      },
      Math.floor(Math.random() * 1000),
    )
    this.#reopen.unref?.()
  }

  #open(): void {
    if (this.#targets.size === 0) return
    this.#passed = 0
    this.#drainPassed = 0
    if (this.#state === IDLE) {
      for (const [channel, handlers] of this.#subscriptions) channel.subscribe(handlers)
      for (const state of this.#targets.values()) this.#attach(state)
    }
    this.#state = OPEN
  }

  /** Budget spent: time nothing new, stay subscribed until the operations being timed end. */
  #drain(): void {
    this.#state = DRAINING
    this.#drainPassed = 0
    if (this.#waiting.size === 0) this.#idle()
  }

  #idle(): void {
    if (this.#state !== IDLE) {
      for (const [channel, handlers] of this.#subscriptions) channel.unsubscribe(handlers)
    }
    for (const state of this.#targets.values()) this.#detach(state)
    this.#state = IDLE
    this.#current = undefined
  }

  /** Draining costs every operation the tracing overhead too, so it has the same budget. */
  #forceIdle(): void {
    for (const rec of [...this.#waiting]) {
      this.#discard(rec)
      rec.target.target.dropped(1)
    }
    this.#idle()
  }

  // ------------------------------------------------------------------------------ tracing

  #start(op: TimedOperation, ctx: TraceContext): void {
    if (this.#state !== OPEN) {
      if (this.#state === DRAINING && ++this.#drainPassed > this.#max) this.#forceIdle()
      return
    }
    if (++this.#passed > this.#max) {
      this.#drain()
      return
    }
    const root = rootOf(ctx.namespace)
    const target = root === undefined ? undefined : this.#targets.get(root)
    if (target === undefined) return
    const kind = KIND[op]
    const rec: Timed = {
      op,
      kind,
      key: keyOf(kind, ctx),
      target,
      prev: this.#current,
      t0: 0,
      confirmed: false,
      level: undefined,
      outcome: undefined,
      sync: false,
      waiting: false,
      done: false,
    }
    ctx[this.#mark] = rec
    this.#current = rec
    rec.t0 = performance.now()
  }

  #end(ctx: TraceContext): void {
    const rec = ctx[this.#mark]
    if (rec === undefined) return
    if (this.#current === rec) this.#current = rec.prev
    if (rec.done) return
    if (Object.hasOwn(ctx, 'error')) this.#finish(rec, performance.now(), true)
    else if (rec.sync) this.#finish(rec, performance.now(), false)
    else {
      // Still running: its confirming event comes later, by key.
      rec.waiting = true
      this.#waiting.add(rec)
      const match = rec.kind + rec.key
      const list = rec.target.pending.get(match)
      if (list === undefined) rec.target.pending.set(match, [rec])
      else list.push(rec)
    }
  }

  #asyncStart(ctx: TraceContext): void {
    const rec = ctx[this.#mark]
    if (rec === undefined || rec.done) return
    this.#finish(rec, performance.now(), Object.hasOwn(ctx, 'error'))
  }

  #finish(rec: Timed, t1: number, failed: boolean): void {
    this.#discard(rec)
    if (rec.confirmed && this.#targets.get(rec.target.target.root) === rec.target) {
      const target = rec.target.target
      target.observe(
        rec.op,
        rec.level ?? target.lastLevel,
        failed ? 'error' : (rec.outcome ?? 'ok'),
        (t1 - rec.t0) / 1000,
      )
    }
    if (this.#state === DRAINING && this.#waiting.size === 0) this.#idle()
  }

  /** Forgets an operation without recording it. */
  #discard(rec: Timed): void {
    rec.done = true
    if (!rec.waiting) return
    rec.waiting = false
    this.#waiting.delete(rec)
    const match = rec.kind + rec.key
    const list = rec.target.pending.get(match)
    if (list === undefined) return
    const i = list.indexOf(rec)
    if (i >= 0) list.splice(i, 1)
    if (list.length === 0) rec.target.pending.delete(match)
  }

  // ------------------------------------------------------------------------------ events

  #attach(state: TargetState): void {
    if (state.attached) return
    state.attached = true
    for (const [event, listener] of state.listeners) state.target.cache.on(event, listener)
  }

  #detach(state: TargetState): void {
    if (!state.attached) return
    state.attached = false
    for (const [event, listener] of state.listeners) state.target.cache.off(event, listener)
  }

  /**
   * The operation an event of `state`'s cache about `kind` + `key` belongs to: the one whose
   * synchronous call is running, else the oldest still running that `accept` takes.
   */
  #find(
    state: TargetState | undefined,
    kind: Kind,
    key: string,
    accept: (rec: Timed) => boolean = unconfirmed,
  ): Timed | undefined {
    if (state === undefined) return undefined
    const now = this.#current
    if (now !== undefined && now.target === state && now.kind === kind && now.key === key && accept(now)) {
      return now
    }
    const list = state.pending.get(kind + key)
    if (list === undefined) return undefined
    for (const rec of list) if (accept(rec)) return rec
    return undefined
  }

  #listenersFor(target: TimingTarget): [CacheEventName, (event: any) => void][] {
    const state = (): TargetState | undefined => this.#targets.get(target.root)
    const confirm = (rec: Timed | undefined, level?: string, outcome?: string): void => {
      if (rec === undefined) return
      rec.confirmed = true
      if (level !== undefined) rec.level = level
      if (outcome !== undefined) rec.outcome = outcome
    }
    const write =
      (kind: Kind) =>
      (key: string): void =>
        confirm(this.#find(state(), kind, key))
    return [
      [
        'hit',
        (e: CacheEvents['hit']) => {
          const s = state()
          const rec = this.#find(s, 'r', e.key)
          if (rec === undefined) return
          if (rec === this.#current) {
            // A hit during the synchronous call is an L1 hit: the value is in hand.
            rec.sync = true
            if (e.tier === 0 && s !== undefined) s.syncL1 = true
          } else if (e.tier === 0 && s?.syncL1) return // another call's L1 hit
          confirm(rec, e.level, 'hit')
        },
      ],
      [
        'miss',
        (e: CacheEvents['miss']) => {
          const rec = this.#find(state(), 'r', e.key)
          confirm(rec, undefined, rec?.op === 'get' ? 'miss' : 'load')
        },
      ],
      [
        'collapse',
        (e: CacheEvents['collapse']) => confirm(this.#find(state(), 'r', e.key), undefined, 'collapsed'),
      ],
      [
        'stale',
        (e: CacheEvents['stale']) => {
          const rec = this.#find(
            state(),
            'r',
            e.key,
            (r) => r.op === 'getOrSet' && (!r.confirmed || r.outcome === 'load'),
          )
          confirm(rec, undefined, 'stale')
        },
      ],
      ['set', (e: CacheEvents['set']) => write('s')(e.key)],
      ['delete', (e: CacheEvents['delete']) => write('d')(e.key)],
      ['delete:pattern', (e: CacheEvents['delete:pattern']) => write('p')(e.pattern)],
      ['invalidate:tags', () => write('t')('')],
      ['clear', (e: CacheEvents['clear']) => write('c')(e.namespace)],
      [
        'error',
        (e: CacheEvents['error']) => {
          // In strict mode a failed write rejects without its completion event: its error confirms it.
          const kind = ERROR_KIND[e.operation]
          const s = state()
          if (kind === undefined || s === undefined) return
          if (kind === 's' || kind === 'd') {
            if (typeof e.key === 'string') write(kind)(e.key)
            return
          }
          if (kind === 't') return write('t')('')
          for (const [match, list] of s.pending) {
            if (match[0] !== kind) continue
            const rec = list.find(unconfirmed)
            if (rec !== undefined) return confirm(rec)
          }
        },
      ],
    ]
  }
}
