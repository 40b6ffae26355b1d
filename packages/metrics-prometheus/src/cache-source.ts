import type { BusStats, Cache, CacheEventName, CacheEvents, CacheStats } from '@tiercache/core'
import { InvalidOptionError } from '@tiercache/core'
import type { OperationRecorder } from './operation-recorder.js'
import type { BreakerLike, BusLike, ResolvedOptions } from './options.js'

/** Where a source reports what it measures from events. */
export interface SourceSink {
  observeLoad(source: CacheSource, outcome: string, seconds: number): void
}

/** Level label of errors that belong to no tier (loader, lock, bus, background work). */
export const NO_LEVEL = 'none'

/**
 * One instrumented cache: its identity and levels, the counters kept from its events, its
 * operation recorder, and a stats snapshot per scrape. Counters that core keeps are read from
 * `refreshStats()`.
 */
export class CacheSource {
  readonly cache: Cache
  readonly root: string
  /** Labels every series of this cache carries: `{ namespace }`, or none. */
  readonly labels: Readonly<Record<string, string>>
  readonly levels: readonly string[]
  /** Breakers by level. */
  readonly breakers: ReadonlyMap<string, BreakerLike>
  readonly bus: BusLike | undefined
  /** Errors by level and operation, from `error` events. */
  readonly errors: Map<string, { readonly level: string; readonly operation: string; count: number }> =
    new Map()
  /** Bus messages from `bus` events (used when no bus with stats() was given). */
  readonly busEvents: { sent: number; received: number; failed: number; seen: boolean } = {
    sent: 0,
    received: 0,
    failed: 0,
    seen: false,
  }
  /** Items of finished `warm()` runs. */
  readonly warmItems: { ok: number; error: number; seen: boolean } = { ok: 0, error: 0, seen: false }
  /** The observer that times this cache's operations; set by the metric set when timing is on. */
  operations: OperationRecorder | undefined
  /** Label objects of this cache's loader histogram series, by outcome. */
  readonly loadSeries: Map<string, Readonly<Record<string, string>>> = new Map()

  readonly #sink: SourceSink
  readonly #listeners: [CacheEventName, (event: any) => void][]

  constructor(cache: Cache, options: ResolvedOptions, sink: SourceSink) {
    this.cache = cache
    this.root = cache.namespacePath
    this.labels = options.namespaceLabel ? { namespace: this.root } : {}
    const stats = cache.getStats()
    this.levels = stats.tiers.map((t) => t.level)
    this.breakers = resolveBreakers(options.breakers, stats)
    this.bus = options.bus
    this.#sink = sink
    this.#listeners = [
      [
        'error',
        (e: CacheEvents['error']) => {
          const level = e.level ?? NO_LEVEL
          const id = `${level}\u0000${e.operation}`
          const entry = this.errors.get(id)
          if (entry === undefined) this.errors.set(id, { level, operation: e.operation, count: 1 })
          else entry.count++
        },
      ],
      ['load', (e: CacheEvents['load']) => this.#sink.observeLoad(this, e.outcome, e.duration / 1000)],
      [
        'warm:done',
        (e: CacheEvents['warm:done']) => {
          this.warmItems.ok += e.succeeded
          this.warmItems.error += e.failed
          this.warmItems.seen = true
        },
      ],
    ]
    if (typeof this.bus?.stats !== 'function') {
      this.#listeners.push([
        'bus',
        (e: CacheEvents['bus']) => {
          this.busEvents[e.direction]++
          this.busEvents.seen = true
        },
      ])
    }
  }

  /** Subscribes to the cache's events. */
  attach(): void {
    for (const [event, listener] of this.#listeners) this.cache.on(event, listener)
  }

  /** Unsubscribes. */
  detach(): void {
    for (const [event, listener] of this.#listeners) this.cache.off(event, listener)
  }

  /** Fresh counters: remote tiers report their stats again (Redis `INFO memory`). */
  async stats(): Promise<CacheStats> {
    try {
      return await this.cache.refreshStats()
    } catch {
      return this.cache.getStats()
    }
  }

  /** The bus's own counters, when a bus with `stats()` was given. */
  busStats(): BusStats | undefined {
    const bus = this.bus
    if (typeof bus?.stats !== 'function') return undefined
    try {
      return bus.stats()
    } catch {
      return undefined
    }
  }
}

/** Maps the `breakers` option to levels; names that match no tier throw at once. */
function resolveBreakers(
  breakers: ResolvedOptions['breakers'],
  stats: CacheStats,
): ReadonlyMap<string, BreakerLike> {
  const out = new Map<string, BreakerLike>()
  const levels = stats.tiers.map((t) => t.level)
  if (Array.isArray(breakers)) {
    for (const breaker of breakers as readonly BreakerLike[]) {
      const tiers = stats.tiers.filter((t) => t.name === breaker.name)
      if (tiers.length !== 1) {
        throw new InvalidOptionError(
          `breakers: ${tiers.length === 0 ? 'no' : 'more than one'} tier is named "${String(breaker.name)}" (levels: ${levels.join(', ')}); pass { <level>: breaker } instead`,
          { option: 'breakers' },
        )
      }
      out.set((tiers[0] as { level: string }).level, breaker)
    }
    return out
  }
  for (const [level, breaker] of Object.entries(breakers as Readonly<Record<string, BreakerLike>>)) {
    if (!levels.includes(level)) {
      throw new InvalidOptionError(
        `breakers: the cache has no level "${level}" (levels: ${levels.join(', ')})`,
        {
          option: 'breakers',
        },
      )
    }
    out.set(level, breaker)
  }
  return out
}
