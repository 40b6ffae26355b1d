import type { DistributedLock, LockHandle } from '../bus.js'
import { parseDuration } from '../duration.js'
import { LoaderFailedError } from '../errors.js'
import { heapSizeAfterSerialize } from '../heap-size.js'
import type { StoreEntry } from '../store.js'
import { normalizeTags, type TagRegistry } from '../tags.js'
import type { Loader, LoaderContext } from '../types.js'
import type { BusSync } from './bus-sync.js'
import type { EngineContext } from './context.js'
import { makeMeta } from './entries.js'
import { type Fence, keysScope } from './fence.js'
import type { Flight, FlightTable } from './flights.js'
import type { LeaseBook } from './leases.js'
import type { Observers } from './observers.js'
import { type LoadOptions, type LoadRequest, withinRevalidateWindow } from './options.js'
import type { LocalEntry, RefreshReason } from './ports.js'
import type { ReadPath } from './read-path.js'
import type { Tier, TierSet } from './tier-set.js'
import type { WritePath } from './write-path.js'

/**
 * `getOrSet`: the L1 fast path, then one flight per key (read, then load once for every caller),
 * and the one refresh path that refresh-ahead, stale-while-revalidate and warming share.
 */
export class Loads {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  readonly #read: ReadPath
  readonly #write: WritePath
  readonly #flights: FlightTable
  readonly #fence: Fence
  readonly #registry: TagRegistry
  readonly #obs: Observers
  readonly #lock: DistributedLock | undefined
  readonly #bus: BusSync | undefined
  readonly #leases: LeaseBook
  /** After a loader failure served stale: no new load for the key before this time (epoch ms). */
  readonly #backoff = new Map<string, number>()
  readonly #firstShared: number
  readonly #lastLevel: string

  constructor(
    ctx: EngineContext,
    tiers: TierSet,
    read: ReadPath,
    write: WritePath,
    flights: FlightTable,
    fence: Fence,
    registry: TagRegistry,
    obs: Observers,
    lock: DistributedLock | undefined,
    bus: BusSync | undefined,
    leases: LeaseBook,
  ) {
    this.#ctx = ctx
    this.#tiers = tiers
    this.#read = read
    this.#write = write
    this.#flights = flights
    this.#fence = fence
    this.#registry = registry
    this.#obs = obs
    this.#lock = lock
    this.#bus = bus
    this.#leases = leases
    this.#firstShared = tiers.shared[0]?.index ?? tiers.all.length
    this.#lastLevel = tiers.last.level
  }

  /** Forgets per-key back-off (after a flush or a clear). */
  clearBackoff(): void {
    this.#backoff.clear()
  }

  /** The `getOrSet` L1 fast path (input already validated), with sampled timing. */
  getOrSet(rel: string, key: string, loader: Loader<any>, opts: LoadOptions): Promise<unknown> {
    const obs = this.#obs
    if (!opts.forceFresh) {
      const timed = obs.timeNextGetOrSet
      const t0 = timed ? performance.now() : 0
      const entry = this.#read.l1Fresh(rel)
      if (entry !== undefined) {
        if (opts.refreshAhead > 0 && this.refreshDue(entry, opts.refreshAhead)) {
          this.refresh({ rel, key, loader, opts }, entry, 'refresh-ahead')
        }
        this.#read.tracker?.touchL1(rel, entry as LocalEntry, loader, opts, key)
        if (timed) {
          obs.timedGetOrSet()
          obs.report('getOrSet', (this.#tiers.l1 as Tier).level, 'hit', t0, obs.sampleEvery)
        } else if (obs.observing) obs.countGetOrSetHit()
        return Promise.resolve(entry.value)
      }
      return this.slow({ rel, key, loader, opts }, timed ? t0 : obs.observing ? performance.now() : -1)
    }
    return this.slow({ rel, key, loader, opts }, obs.observing ? performance.now() : -1)
  }

  /** Starts or joins the flight for a key; reported to observers when `t0 >= 0`. */
  slow(request: LoadRequest, t0 = -1): Promise<unknown> {
    this.#ctx.assertOpen()
    const ctx = this.#ctx
    let flight = this.#flights.get(request.rel)
    let answer = flight?.answer
    if (flight !== undefined && !flight.invalidated) {
      ctx.counters.collapsed++
      if (ctx.emitter.listening.collapse) ctx.emitter.emit('collapse', { key: request.rel })
      if (answer !== undefined) answer.callers++
      else {
        // The earlier callers were answered early (stale) and the load goes on: wait for it, on
        // this caller's own terms.
        answer = this.#flights.newAnswer(flight, request.opts)
        const stale = flight.stale
        if (stale !== undefined && withinRevalidateWindow(request.opts, stale.entry.freshUntil, ctx.now()))
          this.#flights.answerStale(flight, 'revalidate')
      }
    } else {
      flight = this.#flights.start(request, 1, this.#registry.createdAt(ctx.preciseNow()))
      answer = flight.answer
      ctx.background(this.#run(flight))
    }
    const a = answer as NonNullable<typeof answer>
    if (t0 >= 0) {
      a.promise.then(
        () => this.#obs.report('getOrSet', a.level, a.outcome, t0),
        () => this.#obs.report('getOrSet', this.#lastLevel, 'error', t0),
      )
    }
    return a.promise
  }

  async #run(flight: Flight): Promise<void> {
    try {
      await this.#resolve(flight)
    } catch (error) {
      this.#flights.finish(flight, undefined, error)
    } finally {
      this.#releaseUnused(flight)
    }
  }

  /** Releases the leases a flight took and did not use (it wrote nothing). */
  #releaseUnused(flight: Flight): void {
    if (flight.wrote) return
    for (const [i, condition] of flight.expect.entries()) {
      if (condition === undefined) continue
      const tier = this.#tiers.all[i] as Tier
      this.#leases.release(tier, this.#tiers.keyIn(tier, flight.request.rel), condition)
    }
  }

  #leaseFor(opts: LoadOptions): number {
    return opts.hardTimeout !== undefined && opts.hardTimeout < 600_000 ? opts.hardTimeout + 1000 : 60_000
  }

  async #resolve(flight: Flight): Promise<void> {
    const { request } = flight
    const { rel, opts } = request
    const ctx = this.#ctx
    const found = await this.#read.lookup(rel, {
      skipL1: true,
      wantStale: true,
      // With a distributed lock the loader runs only once the lock is held, and the read made
      // then takes the leases: leases taken now would be replaced by the lock holder's.
      ...(this.#lock === undefined ? { leaseFor: this.#leaseFor(opts) } : {}),
      onStale: (stale) => {
        flight.stale = stale
        if (flight.answer?.softExpired && !flight.invalidated)
          this.#flights.answerStale(flight, 'soft-timeout')
      },
    })
    flight.expect = found.expect
    const { fresh, stale } = found
    if (fresh !== undefined && !opts.forceFresh) {
      this.#read.tracker?.touch(rel, fresh.entry, request)
      this.#flights.finish(flight, fresh.value, undefined, 'hit', (this.#tiers.all[fresh.tier] as Tier).level)
      return
    }
    ctx.counters.misses++
    if (ctx.emitter.listening.miss) ctx.emitter.emit('miss', { key: rel })
    this.#read.tracker?.touch(rel, undefined, request)
    flight.stale = stale ?? fresh
    if (flight.stale !== undefined && !flight.invalidated) {
      const until = this.#backoff.get(rel)
      if (until !== undefined) {
        if (until > ctx.now()) {
          this.#flights.answerStale(flight, 'backoff')
          this.#flights.finish(flight, flight.stale.value)
          return
        }
        this.#backoff.delete(rel)
      }
      if (flight.answer?.softExpired) this.#flights.answerStale(flight, 'soft-timeout')
      else if (!opts.forceFresh && withinRevalidateWindow(opts, flight.stale.entry.freshUntil, ctx.now())) {
        ctx.counters.refreshes++
        if (ctx.emitter.listening.refresh) ctx.emitter.emit('refresh', { key: rel, reason: 'revalidate' })
        this.#flights.answerStale(flight, 'revalidate')
      }
    }
    if (this.#lock !== undefined) await this.#loadWithLock(flight, this.#lock)
    else await this.#load(flight)
  }

  async #loadWithLock(flight: Flight, lock: DistributedLock): Promise<void> {
    const { rel, opts } = flight.request
    const lockKey = this.#ctx.remoteKey(rel)
    const ttl = opts.hardTimeout ?? Math.max(opts.lockTimeout, 30_000)
    let handle: LockHandle | undefined
    try {
      // With a stale value in hand, do not wait: serve stale if another instance is loading.
      const wait = flight.stale !== undefined ? 0 : opts.lockTimeout
      handle = await lock.acquire(lockKey, { ttl, wait })
      if (handle === undefined && flight.stale !== undefined && !flight.invalidated) {
        this.#flights.answerStale(flight, 'lock')
        this.#flights.finish(flight, flight.stale.value)
        return
      }
    } catch (error) {
      this.#ctx.reportError(error, 'lock', undefined, rel)
    }
    try {
      // Another instance may have written the value while we waited.
      if (this.#firstShared < this.#tiers.all.length) {
        const again = await this.#read.lookup(rel, {
          skipL1: false,
          wantStale: false,
          from: this.#firstShared,
          leaseFor: this.#leaseFor(opts),
        })
        flight.expect = this.#tiers.all.map((_, i) => again.expect[i] ?? flight.expect[i])
        if (again.fresh !== undefined && !opts.forceFresh) {
          const level = (this.#tiers.all[again.fresh.tier] as Tier).level
          this.#flights.finish(flight, again.fresh.value, undefined, 'hit', level)
          return
        }
      }
      await this.#load(flight)
    } finally {
      if (handle !== undefined)
        await handle.release().catch((error) => this.#ctx.reportError(error, 'unlock', undefined, rel))
    }
  }

  async #load(flight: Flight): Promise<void> {
    const { rel, opts } = flight.request
    const ctx = this.#ctx
    let ttl = opts.ttl
    let grace = opts.grace
    let tags = opts.tags
    let skipped = false
    const loaderCtx: LoaderContext<unknown> = {
      key: flight.request.key,
      stale: flight.stale?.value,
      hasStale: flight.stale !== undefined,
      get signal(): AbortSignal {
        flight.abort ??= new AbortController()
        return flight.abort.signal
      },
      skip: <V>(value?: V): V => {
        skipped = true
        return value as V
      },
      fail: (reason?: string | Error): never => {
        throw reason instanceof Error
          ? new LoaderFailedError(reason.message, { key: rel, cause: reason })
          : new LoaderFailedError(reason ?? `loader for "${flight.request.key}" failed`, { key: rel })
      },
      setTtl: (value) => {
        ttl = parseDuration(value, 'ttl', ctx.timeUnit)
      },
      setGrace: (value) => {
        grace = parseDuration(value, 'grace', ctx.timeUnit)
      },
      setTags: (value) => {
        tags = normalizeTags(value)
      },
    }
    ctx.counters.loads++
    const started = performance.now()
    let value: unknown
    try {
      value = await flight.request.loader(loaderCtx)
    } catch (error) {
      ctx.counters.loadErrors++
      if (ctx.emitter.listening.load) {
        ctx.emitter.emit('load', { key: rel, duration: performance.now() - started, outcome: 'error' })
      }
      const stale = flight.stale
      if (stale !== undefined && stale.entry.staleUntil > ctx.now() && !flight.invalidated) {
        this.#backoff.set(rel, ctx.now() + opts.graceBackoff)
        if (flight.answer !== undefined) {
          ctx.reportError(error, 'loader', undefined, rel)
          this.#flights.answerStale(flight, 'loader-error')
        }
        this.#flights.finish(flight, stale.value)
        return
      }
      this.#flights.finish(flight, undefined, error)
      return
    }
    if (ctx.emitter.listening.load) {
      const outcome = skipped || value === undefined ? 'skip' : 'ok'
      ctx.emitter.emit('load', { key: rel, duration: performance.now() - started, outcome })
    }
    this.#backoff.delete(rel)
    if (!skipped && value !== undefined) {
      try {
        await this.#store(flight, value, ttl, grace, tags)
      } catch (error) {
        this.#flights.finish(flight, undefined, error)
        return
      }
    }
    this.#flights.finish(flight, value, undefined, 'miss', this.#lastLevel)
  }

  /**
   * Writes a loaded value: shared tiers first (conditional ones only as the read before the load
   * allows), then local tiers, unless an invalidation covering the key overlapped the flight.
   */
  async #store(
    flight: Flight,
    value: unknown,
    ttl: number,
    grace: number,
    tags: readonly string[],
  ): Promise<void> {
    const ctx = this.#ctx
    const { rel } = flight.request
    const superseded = (): boolean =>
      flight.invalidated ||
      ctx.closed ||
      (tags.length > 0 && !this.#registry.isValid(tags, flight.createdAt)) ||
      this.#fence.activeCovers(rel, tags)
    if (superseded()) return
    const bytes = ctx.serializer.serialize(value)
    const size = heapSizeAfterSerialize(ctx.serializer, bytes)
    const now = ctx.preciseNow()
    const w = { rel, value, bytes, size, meta: makeMeta(now, flight.createdAt, ttl, grace, tags) }
    flight.wrote = true
    const ticket = this.#flights.beginWrite(flight, keysScope([rel]))
    let failures: unknown[]
    let current: boolean
    try {
      ;({ current, failures } = await this.#write.writeLoadedShared(w, now, flight.expect))
      // From here on, an invalidation that begins marks the flight (this write's own ticket does not).
      if (current && !flight.invalidated && !ctx.closed) {
        failures.push(...(await this.#write.writeLocal([w], now, () => !flight.invalidated && !ctx.closed)))
      } else current = false
    } finally {
      this.#fence.end(ticket)
    }
    if (current) {
      ctx.counters.sets++
      if (ctx.emitter.listening.set) ctx.emitter.emit('set', { key: rel })
      void this.#bus?.publish({ type: 'set', keys: [rel], load: true }, false)
    }
    this.#write.throwIfStrict(failures, 'set', rel)
  }

  /**
   * Starts a background refresh of a key whose loader is known (refresh-ahead, warming) unless
   * a flight for it is under way. `current` is the entry being refreshed, if any.
   */
  refresh(
    request: LoadRequest,
    current: StoreEntry<unknown> | undefined,
    reason: RefreshReason,
  ): Promise<void> | undefined {
    const ctx = this.#ctx
    if (ctx.closed || this.#flights.get(request.rel) !== undefined) return undefined
    ctx.counters.refreshes++
    if (ctx.emitter.listening.refresh) ctx.emitter.emit('refresh', { key: request.rel, reason })
    const flight = this.#flights.start(request, 0, this.#registry.createdAt(ctx.preciseNow()))
    if (current !== undefined) {
      flight.stale = { value: current.value, entry: current, tier: 0, size: current.size ?? 0 }
      // Shared tiers hold this entry (with its creation time) if they hold the key at all.
      flight.expect = this.#tiers.all.map((t) =>
        t.conditional ? { createdAt: current.createdAt } : undefined,
      )
    }
    const run = async (): Promise<void> => {
      try {
        const lock = this.#lock
        if (lock === undefined) return await this.#load(flight)
        const handle = await lock.acquire(this.#ctx.remoteKey(request.rel), {
          ttl: request.opts.hardTimeout ?? 30_000,
          wait: 0,
        })
        if (handle === undefined) return this.#flights.finish(flight, current?.value)
        try {
          await this.#load(flight)
        } finally {
          await handle.release().catch(() => {})
        }
      } catch (error) {
        this.#flights.finish(flight, undefined, error)
      } finally {
        this.#releaseUnused(flight)
      }
    }
    const running = run()
    ctx.background(running)
    return running
  }

  /** True when a refresh-ahead is due for an entry (`fraction` of its TTL has elapsed). */
  refreshDue(entry: StoreEntry<unknown>, fraction: number): boolean {
    if (!(fraction > 0)) return false
    const life = entry.freshUntil - entry.createdAt
    return this.#ctx.now() >= entry.createdAt + life * fraction
  }
}
