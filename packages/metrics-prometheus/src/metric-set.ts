import type { CacheStats, TierStats } from '@tiercache/core'
import { InvalidOptionError } from '@tiercache/core'
import { Counter, Gauge, Histogram, type Metric as PromMetric } from 'prom-client'
import { type CacheSource, NO_LEVEL, type SourceSink } from './cache-source.js'
import { OperationRecorder } from './operation-recorder.js'
import type { BreakerLike, BreakerStateName, RegistryLike, ResolvedOptions } from './options.js'
import { WeightedHistogram } from './weighted-histogram.js'

/** One cache's counters at scrape time. */
interface Snapshot {
  readonly source: CacheSource
  readonly stats: CacheStats
}

type Labels = Record<string, string>
type Series = readonly [labels: Labels, value: number]
type Aggregator = 'sum' | 'min' | 'max'

/** A metric read at scrape time from the caches' counters. */
interface ScrapeSpec {
  readonly name: string
  readonly help: string
  readonly type: 'counter' | 'gauge'
  readonly labels: readonly string[]
  /** How series of several caches with the same labels combine (namespace label off). */
  readonly aggregate: Aggregator
  read(snapshot: Snapshot): Iterable<Series>
}

/** Breaker state as a number: 0 closed, 1 half-open, 2 open. */
export const BREAKER_STATE_VALUE: Readonly<Record<BreakerStateName, number>> = {
  closed: 0,
  'half-open': 1,
  open: 2,
}

function* perTier(stats: CacheStats, read: (tier: TierStats) => number | undefined): Iterable<Series> {
  for (const tier of stats.tiers) {
    const value = read(tier)
    if (value !== undefined) yield [{ level: tier.level }, value]
  }
}

/**
 * `hits_total{level=L}`: reads answered at L or above, so that the usual
 * `rate(hits) / (rate(hits) + rate(misses))`, evaluated per label set, has a value only at the
 * last level, and there it is the cache's hit ratio. Per-level counts are differences.
 */
function* cumulativeHits(stats: CacheStats): Iterable<Series> {
  let answered = 0
  for (const tier of stats.tiers) {
    answered += tier.hits
    yield [{ level: tier.level }, answered]
  }
}

/** `misses_total`: reads no level answered (core's `misses`), on the last level only. */
function* lastLevelMisses(stats: CacheStats): Iterable<Series> {
  const last = stats.tiers.at(-1)
  if (last !== undefined) yield [{ level: last.level }, stats.misses]
}

function* perBreaker(source: CacheSource, read: (b: BreakerLike) => number | undefined): Iterable<Series> {
  for (const [level, breaker] of source.breakers) {
    let value: number | undefined
    try {
      value = read(breaker)
    } catch {
      value = undefined
    }
    if (value !== undefined) yield [{ level }, value]
  }
}

function levelUp(source: CacheSource, tier: TierStats): number {
  const breaker = source.breakers.get(tier.level)
  let open = false
  try {
    open = breaker?.state === 'open'
  } catch {}
  return tier.connected !== false && !open ? 1 : 0
}

/** The metrics read at scrape time; names without the prefix. */
const SCRAPE_SPECS: readonly ScrapeSpec[] = [
  {
    name: 'hits_total',
    help: 'Reads answered with a fresh value at this level or above it (cumulative from L1 down: the last level counts every read some level answered).',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => cumulativeHits(stats),
  },
  {
    name: 'misses_total',
    help: 'Reads no level answered with a fresh value; one series, labelled with the last level.',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => lastLevelMisses(stats),
  },
  {
    name: 'sets_total',
    help: 'Entries written to this level (writes, loads and backfills).',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => perTier(stats, (t) => t.sets),
  },
  {
    name: 'deletes_total',
    help: 'Keys deleted from this level.',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => perTier(stats, (t) => t.deletes),
  },
  {
    name: 'errors_total',
    help: `Failed operations by level ("${NO_LEVEL}" for work outside a tier: loader, lock, bus) and operation.`,
    type: 'counter',
    labels: ['level', 'operation'],
    aggregate: 'sum',
    read: function* ({ source }) {
      for (const e of source.errors.values()) yield [{ level: e.level, operation: e.operation }, e.count]
    },
  },
  {
    name: 'evictions_total',
    help: 'Entries this level evicted for space (stores that report it, e.g. memory).',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => perTier(stats, (t) => t.evictions),
  },
  {
    name: 'entries',
    help: 'Entries held by this level (stores that report it).',
    type: 'gauge',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => perTier(stats, (t) => t.entries),
  },
  {
    name: 'size_bytes',
    help: 'Bytes held by this level: the entries’ serialized size, or the server’s used memory for stores that report only that (Redis); 0 while the level does not answer (disconnected, or its breaker open), so an alert on cache_size_bytes{level="l2_redis"} == 0 fires while Redis is down.',
    type: 'gauge',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ source, stats }) =>
      perTier(stats, (t) => (levelUp(source, t) === 0 ? 0 : (t.bytes ?? t.usedMemory))),
  },
  {
    name: 'max_bytes',
    help: 'The byte bound of this level (stores that have one, e.g. memory maxBytes).',
    type: 'gauge',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ stats }) => perTier(stats, (t) => t.maxBytes),
  },
  {
    name: 'used_memory_bytes',
    help: 'Memory the backend server reports using (Redis used_memory, summed over Cluster masters).',
    type: 'gauge',
    labels: ['level'],
    aggregate: 'max',
    read: ({ stats }) => perTier(stats, (t) => t.usedMemory),
  },
  {
    name: 'level_up',
    help: '1 when the level answers (connected, breaker not open), 0 when it does not.',
    type: 'gauge',
    labels: ['level'],
    aggregate: 'min',
    read: function* ({ source, stats }) {
      for (const tier of stats.tiers) yield [{ level: tier.level }, levelUp(source, tier)]
    },
  },
  {
    name: 'loads_total',
    help: 'Loader runs (getOrSet, wrap, background refreshes).',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: ({ stats }) => [[{}, stats.loads]],
  },
  {
    name: 'loader_errors_total',
    help: 'Loader failures: thrown errors, ctx.fail() and hard timeouts.',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: ({ stats }) => [[{}, stats.loadErrors]],
  },
  {
    name: 'collapsed_total',
    help: 'getOrSet calls that joined a load already in flight instead of calling the loader (stampede protection).',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: ({ stats }) => [[{}, stats.collapsed]],
  },
  {
    name: 'stale_served_total',
    help: 'Stale values served: fail-safe after a loader error, soft or hard timeout, stale-while-revalidate, backoff.',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: ({ stats }) => [[{}, stats.staleServed]],
  },
  {
    name: 'refreshes_total',
    help: 'Background refreshes started (refresh-ahead, stale-while-revalidate, warming).',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: ({ stats }) => [[{}, stats.refreshes]],
  },
  {
    name: 'breaker_state',
    help: 'Circuit breaker state of the level: 0 closed, 1 half-open, 2 open.',
    type: 'gauge',
    labels: ['level'],
    aggregate: 'max',
    read: ({ source }) => perBreaker(source, (b) => BREAKER_STATE_VALUE[b.state]),
  },
  {
    name: 'breaker_opened_total',
    help: 'Times the level’s circuit breaker opened (from closed or half-open).',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ source }) => perBreaker(source, (b) => b.counters?.opened),
  },
  {
    name: 'breaker_closed_total',
    help: 'Times the level’s circuit breaker closed again after probes succeeded.',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ source }) => perBreaker(source, (b) => b.counters?.closed),
  },
  {
    name: 'breaker_rejected_total',
    help: 'Calls the level’s circuit breaker refused without I/O.',
    type: 'counter',
    labels: ['level'],
    aggregate: 'sum',
    read: ({ source }) => perBreaker(source, (b) => b.counters?.rejections),
  },
  {
    name: 'bus_messages_total',
    help: 'Invalidation bus messages by outcome: sent, received (from other instances), failed (dropped after retries).',
    type: 'counter',
    labels: ['outcome'],
    aggregate: 'sum',
    read: function* ({ source }) {
      const stats = source.busStats()
      const counts = stats ?? (source.busEvents.seen ? source.busEvents : undefined)
      if (counts === undefined) return
      yield [{ outcome: 'sent' }, counts.sent]
      yield [{ outcome: 'received' }, counts.received]
      yield [{ outcome: 'failed' }, counts.failed]
    },
  },
  {
    name: 'bus_queued',
    help: 'Bus messages waiting to be retried (a bus given to the plugin).',
    type: 'gauge',
    labels: [],
    aggregate: 'sum',
    read: function* ({ source }) {
      const stats = source.busStats()
      if (stats !== undefined) yield [{}, stats.queued]
    },
  },
  {
    name: 'bus_connected',
    help: '1 while the bus subscription is up (a bus given to the plugin).',
    type: 'gauge',
    labels: [],
    aggregate: 'min',
    read: function* ({ source }) {
      const stats = source.busStats()
      if (stats !== undefined) yield [{}, stats.connected ? 1 : 0]
    },
  },
  {
    name: 'warming_hot_keys',
    help: 'Keys currently considered hot by warming.',
    type: 'gauge',
    labels: [],
    aggregate: 'sum',
    read: function* ({ stats }) {
      if (stats.warming !== undefined) yield [{}, stats.warming.hotKeys]
    },
  },
  {
    name: 'warming_refreshes_total',
    help: 'Hot-key refreshes started by warming.',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: function* ({ stats }) {
      if (stats.warming !== undefined) yield [{}, stats.warming.refreshes]
    },
  },
  {
    name: 'warming_promotions_total',
    help: 'Hot keys promoted into L1 from a lower level by warming.',
    type: 'counter',
    labels: [],
    aggregate: 'sum',
    read: function* ({ stats }) {
      if (stats.warming !== undefined) yield [{}, stats.warming.promotions]
    },
  },
  {
    name: 'warm_items_total',
    help: 'Items of finished warm() runs, by outcome (ok, error).',
    type: 'counter',
    labels: ['outcome'],
    aggregate: 'sum',
    read: function* ({ source }) {
      if (!source.warmItems.seen) return
      yield [{ outcome: 'ok' }, source.warmItems.ok]
      yield [{ outcome: 'error' }, source.warmItems.error]
    },
  },
]

type Metric = Counter<string> | Gauge<string> | Histogram<string> | WeightedHistogram

/** Shared metric sets by registry, then by prefix. */
const sets = new WeakMap<object, Map<string, MetricSet>>()

/**
 * The metrics of one registry and prefix, shared by every plugin (one per cache) that uses them.
 * Registered when the first cache is installed; removed from the registry when the last closes.
 */
export class MetricSet implements SourceSink {
  readonly registry: RegistryLike
  readonly options: ResolvedOptions
  readonly #sources = new Map<string, CacheSource>()
  readonly #metrics: [name: string, metric: Metric][] = []
  readonly #operations: WeightedHistogram | undefined
  readonly #loads: Histogram<string>
  /** Loader histogram label sets each cache used, to remove them when it closes. */
  readonly #histogramSeries = new Map<CacheSource, [Histogram<string>, Labels][]>()
  #snapshot: Promise<Snapshot[]> | undefined

  /** The set for this registry and prefix: the existing one, or a new one registered now. */
  static for(registry: RegistryLike, options: ResolvedOptions): MetricSet {
    let byPrefix = sets.get(registry)
    if (byPrefix === undefined) {
      byPrefix = new Map()
      sets.set(registry, byPrefix)
    }
    const existing = byPrefix.get(options.prefix)
    if (existing !== undefined) {
      existing.#checkCompatible(options)
      return existing
    }
    const set = new MetricSet(registry, options)
    byPrefix.set(options.prefix, set)
    return set
  }

  private constructor(registry: RegistryLike, options: ResolvedOptions) {
    this.registry = registry
    this.options = options
    const p = options.prefix
    const ns = options.namespaceLabel ? ['namespace'] : []
    const names = [
      ...SCRAPE_SPECS.map((s) => p + s.name),
      `${p}loader_duration_seconds`,
      ...(options.timing ? [`${p}operations_duration_seconds`] : []),
    ]
    for (const name of names) {
      if (registry.getSingleMetric(name) !== undefined) {
        throw new InvalidOptionError(
          `the registry already has a metric named "${name}"; give this cache's metrics another prefix or registry`,
          { option: 'registry' },
        )
      }
    }
    const set = this
    for (const spec of SCRAPE_SPECS) {
      const config = {
        name: p + spec.name,
        help: spec.help,
        labelNames: [...ns, ...spec.labels],
        registers: [],
        aggregator: spec.aggregate,
        collect(this: Counter<string> | Gauge<string>): Promise<void> {
          return set.#fill(spec, this)
        },
      }
      this.#metrics.push([config.name, spec.type === 'counter' ? new Counter(config) : new Gauge(config)])
    }
    this.#loads = new Histogram({
      name: `${p}loader_duration_seconds`,
      help: 'Loader run time in seconds, every run, by outcome (ok, error, skip), as core measures it.',
      labelNames: [...ns, 'outcome'],
      buckets: [...options.loaderBuckets],
      registers: [],
    })
    this.#metrics.push([`${p}loader_duration_seconds`, this.#loads])
    if (options.timing) {
      this.#operations = new WeightedHistogram({
        name: `${p}operations_duration_seconds`,
        help: 'Cache operation time in seconds by operation, level (the level that answered a read, else the last level) and outcome. _count counts every operation: L1 hits of get and getOrSet are timed one in l1SampleEvery (a cache option, default 64) and weighted by it; see the package README.',
        labelNames: [...ns, 'operation', 'level', 'outcome'],
        buckets: options.buckets,
      })
      this.#metrics.push([`${p}operations_duration_seconds`, this.#operations])
    }
    // prom-client's Registry needs only name, help, type, aggregator, get() and reset() of a metric.
    for (const [, metric] of this.#metrics) registry.registerMetric(metric as PromMetric)
  }

  /** Names of the metrics this set registered (histograms without their suffixes). */
  get names(): string[] {
    return this.#metrics.map(([name]) => name)
  }

  /** Starts reporting a cache; with timing on, gives it its `operations` recorder. */
  add(source: CacheSource): void {
    const other = this.#sources.get(source.root)
    if (other !== undefined) {
      throw new InvalidOptionError(
        `a cache with namespace "${source.root}" already reports to this registry; give each cache its own namespace`,
        { option: 'namespace' },
      )
    }
    this.#sources.set(source.root, source)
    source.attach()
    if (this.#operations !== undefined) {
      source.operations = new OperationRecorder(this.#operations, source.labels, source.levels)
    }
  }

  /** Stops reporting a cache; the last one out unregisters the metrics. */
  remove(source: CacheSource): void {
    if (this.#sources.get(source.root) !== source) return
    this.#sources.delete(source.root)
    source.detach()
    // Without the namespace label, caches of the registry share their series: they stay.
    if (this.options.namespaceLabel) {
      source.operations?.removeSeries()
      for (const [histogram, labels] of this.#histogramSeries.get(source) ?? []) {
        histogram.remove(labels)
      }
    }
    source.operations = undefined
    this.#histogramSeries.delete(source)
    this.releaseIfUnused()
  }

  /** With no cache left, removes the metrics from the registry and forgets this set. */
  releaseIfUnused(): void {
    if (this.#sources.size > 0) return
    for (const [name] of this.#metrics) {
      if ((this.registry.getSingleMetric(name) as unknown) === this.#byName(name)) {
        this.registry.removeSingleMetric(name)
      }
    }
    const byPrefix = sets.get(this.registry)
    if (byPrefix?.get(this.options.prefix) === this) byPrefix.delete(this.options.prefix)
  }

  #byName(name: string): Metric | undefined {
    return this.#metrics.find(([n]) => n === name)?.[1]
  }

  observeLoad(source: CacheSource, outcome: string, seconds: number): void {
    let labels = source.loadSeries.get(outcome)
    if (labels === undefined) {
      labels = this.#track(source, this.#loads, { outcome })
      source.loadSeries.set(outcome, labels)
    }
    this.#loads.observe(labels, seconds)
  }

  /** Remembers a histogram series of a cache, to remove it when the cache closes. */
  #track(source: CacheSource, histogram: Histogram<string>, labels: Labels): Labels {
    const full = { ...source.labels, ...labels }
    let series = this.#histogramSeries.get(source)
    if (series === undefined) {
      series = []
      this.#histogramSeries.set(source, series)
    }
    series.push([histogram, full])
    return full
  }

  #checkCompatible(options: ResolvedOptions): void {
    const a = this.options
    const same =
      a.namespaceLabel === options.namespaceLabel &&
      a.timing === options.timing &&
      a.buckets.join() === options.buckets.join() &&
      a.loaderBuckets.join() === options.loaderBuckets.join()
    if (!same) {
      throw new InvalidOptionError(
        `plugins sharing a registry and prefix ("${a.prefix}") need the same buckets, loaderBuckets, namespaceLabel and timing`,
        { option: 'registry' },
      )
    }
  }

  /** One stats snapshot per scrape, shared by every metric's collect(). */
  #snapshots(): Promise<Snapshot[]> {
    if (this.#snapshot === undefined) {
      const sources = [...this.#sources.values()]
      this.#snapshot = Promise.all(sources.map(async (source) => ({ source, stats: await source.stats() })))
      const clear = (): void => {
        this.#snapshot = undefined
      }
      this.#snapshot.then(clear, clear)
    }
    return this.#snapshot
  }

  async #fill(spec: ScrapeSpec, metric: Counter<string> | Gauge<string>): Promise<void> {
    const snapshots = await this.#snapshots()
    const merged = new Map<string, [Labels, number]>()
    for (const snapshot of snapshots) {
      for (const [labels, value] of spec.read(snapshot)) {
        if (typeof value !== 'number' || !Number.isFinite(value)) continue
        const full = { ...snapshot.source.labels, ...labels }
        const id = Object.values(full).join('\u0000')
        const seen = merged.get(id)
        if (seen === undefined) merged.set(id, [full, value])
        else if (spec.aggregate === 'sum') seen[1] += value
        else if (spec.aggregate === 'min') seen[1] = Math.min(seen[1], value)
        else seen[1] = Math.max(seen[1], value)
      }
    }
    metric.reset()
    // An unlabelled metric resets to one series at 0: drop it when there is nothing to report.
    if (merged.size === 0 && spec.labels.length === 0 && !this.options.namespaceLabel) metric.remove({})
    if (metric instanceof Gauge) {
      for (const [labels, value] of merged.values()) metric.set(labels, value)
    } else {
      for (const [labels, value] of merged.values()) metric.inc(labels, Math.max(0, value))
    }
  }
}
