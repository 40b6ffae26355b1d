import { optionalDuration, timerDelay } from './duration.js'
import type { LoadOptions, LoadRequest } from './engine/options.js'
import type { AccessTracker, LocalEntry, WarmingHost } from './engine/ports.js'
import { InvalidOptionError } from './errors.js'
import { FrequencySketch } from './sketch.js'
import type { StoreEntry } from './store.js'
import type { Loader, WarmingOptions, WarmingStats } from './types.js'

/** A hot key's record. */
export interface HotKey {
  readonly rel: string
  key: string | undefined
  loader: Loader<unknown> | undefined
  opts: LoadOptions | undefined
  hits: number
  prevHits: number
  /** The counting window (generation) of its last read; keys idle for a whole window cool down. */
  gen: number
  /** Bumped whenever the key is rescheduled; stale heap nodes are skipped. */
  version: number
  /** `createdAt` of the entry the pending refresh was scheduled for. */
  scheduledFor: number
  refreshing: boolean
}

interface Due {
  readonly at: number
  readonly rel: string
  readonly version: number
}

/** A binary min-heap of due refreshes. */
class DueHeap {
  readonly #items: Due[] = []
  get size(): number {
    return this.#items.length
  }
  peek(): Due | undefined {
    return this.#items[0]
  }
  push(item: Due): void {
    const a = this.#items
    a.push(item)
    let i = a.length - 1
    while (i > 0) {
      const p = (i - 1) >> 1
      if ((a[p] as Due).at <= item.at) break
      a[i] = a[p] as Due
      i = p
    }
    a[i] = item
  }
  pop(): Due | undefined {
    const a = this.#items
    const top = a[0]
    const last = a.pop()
    if (a.length === 0 || last === undefined) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= a.length) break
      const r = l + 1
      const c = r < a.length && (a[r] as Due).at < (a[l] as Due).at ? r : l
      if ((a[c] as Due).at >= last.at) break
      a[i] = a[c] as Due
      i = c
    }
    a[i] = last
    return top
  }
}

const SNAPSHOT_TTL = 7 * 86_400_000

/**
 * Hot-key tracking and refresh. A key read `threshold` times within `window` is hot:
 * - reads that miss L1 are counted in a fixed-size count-min sketch (aged every window);
 * - hot keys go into a bounded registry (at most 10,000), where an L1 hit costs one Map lookup;
 * - hot keys whose loader is known are refreshed in the background at `refreshAhead × ttl`,
 *   at most once per key at a time and `concurrency` at a time overall, while they stay hot;
 * - keys not read for a whole window cool down and are no longer refreshed;
 * - the top hot keys are snapshotted into the shared tiers, so a restarted instance can warm
 *   its L1 before `ready()` resolves (`restore: true`).
 */
export class Warming implements AccessTracker {
  readonly #e: WarmingHost
  readonly #threshold: number
  readonly #window: number
  readonly #refreshAhead: number
  readonly #concurrency: number
  readonly #snapshotSize: number
  readonly #sketch: FrequencySketch
  readonly #hot = new Map<string, HotKey>()
  readonly #heap = new DueHeap()
  readonly #maxHot = 10_000
  #timer: unknown
  #timerAt = Number.POSITIVE_INFINITY
  readonly #intervals: unknown[] = []
  #active = 0
  #closed = false
  /** The current counting window; advanced every `window`. */
  #gen = 0
  #refreshes = 0
  #promotions = 0
  /** Resolves when restore (if asked) is done. */
  readonly ready: Promise<void>

  constructor(engine: WarmingHost, options: WarmingOptions) {
    this.#e = engine
    this.#threshold = intOption(options.threshold, 10, 'warming.threshold', 1, 255)
    this.#window = optionalDuration(options.window, 60_000, 'warming.window', engine.timeUnit)
    if (!(this.#window > 0 && this.#window < Number.POSITIVE_INFINITY)) {
      throw new InvalidOptionError('warming.window must be a finite positive duration', {
        option: 'warming.window',
      })
    }
    const f = options.refreshAhead ?? 0.8
    if (typeof f !== 'number' || !(f > 0 && f < 1)) {
      throw new InvalidOptionError('warming.refreshAhead must be a number in (0, 1)', {
        option: 'warming.refreshAhead',
      })
    }
    this.#refreshAhead = f
    this.#concurrency = intOption(options.concurrency, 4, 'warming.concurrency', 1, 1024)
    this.#snapshotSize = intOption(options.snapshotSize, 1000, 'warming.snapshotSize', 1, 100_000)
    this.#sketch = new FrequencySketch(options.sketchWidth ?? 65_536)
    const snapshotEvery = optionalDuration(
      options.snapshotInterval,
      60_000,
      'warming.snapshotInterval',
      engine.timeUnit,
    )
    this.#every(this.#window, () => this.#age())
    if (snapshotEvery > 0 && snapshotEvery < Number.POSITIVE_INFINITY) {
      this.#every(snapshotEvery, () => this.#e.background(this.snapshot()))
    }
    this.ready = options.restore === true ? this.#restore() : Promise.resolve()
  }

  #every(ms: number, fn: () => void): void {
    const tick = (): void => {
      if (this.#closed) return
      fn()
      this.#intervals[i] = this.#e.setTimer(tick, timerDelay(ms))
    }
    const i = this.#intervals.length
    this.#intervals.push(this.#e.setTimer(tick, timerDelay(ms)))
  }

  /**
   * Records an L1 hit. Costs a few field writes on the entry just read: reads are counted on the
   * entry itself within the current window, and a hot key's record hangs off its entry.
   */
  touchL1(rel: string, entry: LocalEntry, loader?: Loader<any>, opts?: LoadOptions, key?: string): void {
    const hk = entry.hot as HotKey | undefined
    if (hk !== undefined) {
      hk.hits++
      hk.gen = this.#gen
      if (
        loader !== undefined &&
        !hk.refreshing &&
        (hk.loader === undefined || hk.scheduledFor !== entry.createdAt)
      ) {
        this.#attach(hk, entry, loader, opts, key)
      }
      return
    }
    if (entry.win !== this.#gen) {
      if (entry.win === undefined) {
        // Not an entry the engine built (a memory store that copies entries): use the sketch.
        this.#count(rel, entry, loader, opts, key)
        return
      }
      entry.win = this.#gen
      entry.reads = 1
      // A hot key whose entry was just replaced (a refresh, a set): link the new entry.
      const known = this.#hot.get(rel)
      if (known !== undefined) {
        entry.hot = known
        this.touchL1(rel, entry, loader, opts, key)
      }
      return
    }
    if (++entry.reads >= this.#threshold) this.#becomeHot(rel, entry, loader, opts, entry.reads, key)
  }

  /**
   * Prepares a new L1 entry: links it to its key's hot record if the key is hot, otherwise starts
   * its read count from the sketch (the reads that missed L1 before it was written).
   */
  linkL1(rel: string, entry: LocalEntry): void {
    const hk = this.#hot.get(rel)
    if (hk === undefined) {
      const seen = this.#sketch.estimate(rel)
      if (seen > 0) {
        entry.win = this.#gen
        entry.reads = seen
      }
      return
    }
    entry.hot = hk
    if (hk.loader !== undefined && !hk.refreshing) this.#schedule(hk, entry)
  }

  /**
   * Records a read that did not hit L1: a miss (`entry` undefined) or a hit in a lower tier.
   * Counted in the frequency sketch. The request is known for `getOrSet` and `wrap`.
   */
  touch(rel: string, entry: StoreEntry<unknown> | undefined, request?: LoadRequest): void {
    this.#count(rel, entry, request?.loader, request?.opts, request?.key)
  }

  #count(
    rel: string,
    entry: StoreEntry<unknown> | undefined,
    loader?: Loader<any>,
    opts?: LoadOptions,
    key?: string,
  ): void {
    const hk = this.#hot.get(rel)
    if (hk !== undefined) {
      hk.hits++
      hk.gen = this.#gen
      if (loader !== undefined && entry !== undefined && !hk.refreshing)
        this.#attach(hk, entry, loader, opts, key)
      else if (loader !== undefined && hk.loader === undefined) this.#attach(hk, undefined, loader, opts, key)
      return
    }
    const count = this.#sketch.increment(rel)
    if (count < this.#threshold) return
    this.#becomeHot(rel, entry, loader, opts, count, key)
  }

  /** Records the loader of a hot key and schedules its refresh for `entry`. */
  #attach(
    hk: HotKey,
    entry: StoreEntry<unknown> | undefined,
    loader: Loader<any>,
    opts: LoadOptions | undefined,
    key: string | undefined,
  ): void {
    if (hk.loader === undefined) {
      hk.loader = loader
      hk.opts = opts
      hk.key = key ?? hk.rel
    }
    if (entry !== undefined && hk.scheduledFor !== entry.createdAt) this.#schedule(hk, entry)
  }

  #becomeHot(
    rel: string,
    entry: StoreEntry<unknown> | undefined,
    loader: Loader<any> | undefined,
    opts: LoadOptions | undefined,
    count: number,
    key: string | undefined,
  ): void {
    if (this.#hot.size >= this.#maxHot) {
      const oldest = this.#hot.keys().next().value
      if (oldest !== undefined) this.#hot.delete(oldest)
    }
    const hk: HotKey = {
      rel,
      key: undefined,
      loader,
      opts,
      hits: count,
      prevHits: 0,
      gen: this.#gen,
      version: 0,
      scheduledFor: -1,
      refreshing: false,
    }
    if (loader !== undefined) hk.key = key ?? rel
    this.#hot.set(rel, hk)
    if (entry !== undefined && (entry as LocalEntry).win !== undefined) (entry as LocalEntry).hot = hk
    else {
      // Found below L1: the backfill just wrote an L1 entry; link it.
      const l1 = this.#e.peekL1(rel) as LocalEntry | undefined
      if (l1 !== undefined && l1.win !== undefined) l1.hot = hk
    }
    if (this.#e.emitter.listening.hot) this.#e.emitter.emit('hot', { key: rel })
    if (entry !== undefined && this.#e.hasL1 && this.#e.peekL1(rel) !== undefined) this.#promotions++
    if (loader !== undefined && entry !== undefined) this.#schedule(hk, entry)
  }

  #schedule(hk: HotKey, entry: StoreEntry<unknown>): void {
    const life = entry.freshUntil - entry.createdAt
    if (!(life > 0) || !Number.isFinite(life)) return
    const at = entry.createdAt + life * this.#refreshAhead
    hk.scheduledFor = entry.createdAt
    hk.version++
    this.#heap.push({ at, rel: hk.rel, version: hk.version })
    this.#arm()
  }

  #arm(): void {
    const top = this.#heap.peek()
    if (top === undefined || this.#closed) return
    if (top.at >= this.#timerAt) return
    if (this.#timer !== undefined) this.#e.clearTimer(this.#timer)
    this.#timerAt = top.at
    this.#timer = this.#e.setTimer(
      () => {
        this.#timer = undefined
        this.#timerAt = Number.POSITIVE_INFINITY
        this.#runDue()
      },
      timerDelay(top.at - this.#e.now()),
    )
  }

  #runDue(): void {
    const now = this.#e.now()
    for (;;) {
      const top = this.#heap.peek()
      if (top === undefined || top.at > now) break
      if (this.#active >= this.#concurrency) {
        // Try again shortly; keep the item queued.
        this.#timerAt = now + 5
        this.#timer = this.#e.setTimer(() => {
          this.#timer = undefined
          this.#timerAt = Number.POSITIVE_INFINITY
          this.#runDue()
        }, 5)
        return
      }
      this.#heap.pop()
      const hk = this.#hot.get(top.rel)
      if (hk === undefined || hk.version !== top.version || hk.loader === undefined || hk.refreshing) continue
      if (hk.gen < this.#gen - 1) {
        // Not read during the last whole window: cooled down, and cold keys are not refreshed.
        this.#hot.delete(hk.rel)
        continue
      }
      this.#refresh(hk)
    }
    this.#arm()
  }

  #refresh(hk: HotKey): void {
    const current = this.#e.peekL1(hk.rel)
    const opts = hk.opts ?? this.#e.defaults
    hk.refreshing = true
    this.#active++
    this.#refreshes++
    const started = this.#e.refresh(
      { rel: hk.rel, key: hk.key ?? hk.rel, loader: hk.loader!, opts },
      current,
      'warming',
    )
    const done = (): void => {
      hk.refreshing = false
      this.#active--
      const entry = this.#e.peekL1(hk.rel)
      if (entry !== undefined && this.#hot.get(hk.rel) === hk) {
        if ((entry as LocalEntry).win !== undefined) (entry as LocalEntry).hot = hk
        this.#schedule(hk, entry)
      } else this.#arm()
    }
    if (started === undefined) done()
    else void started.then(done, done)
  }

  #age(): void {
    this.#sketch.age()
    this.#gen++
    for (const [rel, hk] of this.#hot) {
      if (hk.gen < this.#gen - 1) this.#hot.delete(rel)
      else {
        hk.prevHits = hk.hits
        hk.hits = 0
      }
    }
  }

  /** Writes the names of the hottest keys into the shared tiers. */
  async snapshot(): Promise<number> {
    const top = [...this.#hot.values()]
      .sort((a, b) => b.hits + b.prevHits - (a.hits + a.prevHits))
      .slice(0, this.#snapshotSize)
      .map((h) => h.rel)
    if (top.length === 0) return 0
    await this.#e.writeInternal('warm:snapshot', top, SNAPSHOT_TTL)
    return top.length
  }

  async #restore(): Promise<void> {
    try {
      const keys = await this.#e.readInternal('warm:snapshot')
      if (!Array.isArray(keys) || keys.length === 0) return
      const rels = keys.filter((k): k is string => typeof k === 'string')
      for (let i = 0; i < rels.length; i += 500) await this.#e.preload(rels.slice(i, i + 500))
    } catch (error) {
      this.#e.reportError(error, 'warm:restore')
    }
  }

  /** Counters for stats. */
  stats(): WarmingStats {
    return {
      hotKeys: this.#hot.size,
      refreshes: this.#refreshes,
      promotions: this.#promotions,
      sketchBytes: this.#sketch.bytes,
    }
  }

  /** Stops every timer. */
  close(): void {
    this.#closed = true
    if (this.#timer !== undefined) this.#e.clearTimer(this.#timer)
    for (const t of this.#intervals) this.#e.clearTimer(t)
  }
}

/** An integer option within bounds, or its default. @internal */
export function intOption(
  value: unknown,
  fallback: number,
  option: string,
  min: number,
  max: number,
): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidOptionError(`${option} must be an integer between ${min} and ${max}`, { option })
  }
  return value
}
