import type { BusStats } from '@tiercache/core'
import { InvalidOptionError } from '@tiercache/core'
import type { Registry } from 'prom-client'

/**
 * The registry methods the plugin and {@link metricsHandler} use. prom-client's `Registry`
 * (a private one, or the global `register`) satisfies it.
 */
export type RegistryLike = Pick<
  Registry,
  'registerMetric' | 'removeSingleMetric' | 'getSingleMetric' | 'metrics' | 'contentType'
>

/** A circuit breaker state, as `withBreaker` from `@tiercache/breaker` reports it. */
export type BreakerStateName = 'closed' | 'open' | 'half-open'

/**
 * What the plugin reads from a circuit breaker: the `BreakerStore` made by `withBreaker` from
 * `@tiercache/breaker` satisfies it.
 */
export interface BreakerLike {
  /** Name of the wrapped store; the tier's level is `l<position>_<name>`. */
  readonly name: string
  /** The current state. */
  readonly state: BreakerStateName
  /** Monotonic counters since the breaker was created, when it keeps them. */
  readonly counters?: {
    /** Times the breaker opened. */
    readonly opened: number
    /** Times it closed again after being open. */
    readonly closed: number
    /** Calls refused without I/O while open or half-open. */
    readonly rejections: number
  }
}

/** What the plugin reads from a bus: `redisBus` from `@tiercache/store-redis` satisfies it. */
export interface BusLike {
  /** Counters of the bus. */
  stats?(): BusStats
}

/** Options for {@link prometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /**
   * The registry the metrics are registered in. Pass prom-client's global `register` to serve
   * them with your other metrics. Several plugins (one per cache) may share a registry.
   * @default a new private `Registry`
   */
  readonly registry?: RegistryLike
  /**
   * Prefix of every metric name. The shipped alert rules and dashboard assume the default.
   * @default 'cache_'
   */
  readonly prefix?: string
  /**
   * Upper bounds, in seconds, of the `<prefix>operations_duration_seconds` buckets.
   * @default DEFAULT_OPERATION_BUCKETS (1 µs to 10 s)
   */
  readonly buckets?: readonly number[]
  /**
   * Upper bounds, in seconds, of the `<prefix>loader_duration_seconds` buckets.
   * @default DEFAULT_LOADER_BUCKETS (1 ms to 60 s)
   */
  readonly loaderBuckets?: readonly number[]
  /**
   * Label every series with `namespace` (the cache's root namespace). Turn it off when one
   * cache per process is all you have and you want one label less.
   * @default true
   */
  readonly namespaceLabel?: boolean
  /**
   * Time the cache's operations into `<prefix>operations_duration_seconds`, through an observer
   * registered with the cache. Every operation that leaves L1 is timed; L1 hits of `get` and
   * `getOrSet` are timed one in `l1SampleEvery` (a `createCache` option, default 64) and counted
   * with that weight, so `_count` counts every operation. `false` registers neither the histogram
   * nor the observer.
   * @default true
   */
  readonly timing?: boolean
  /**
   * The cache's circuit breakers, for `<prefix>breaker_*` and `<prefix>level_up`: by level
   * (`{ l2_redis: l2 }`), or as a list matched to the tier of the same store name.
   * @default none
   */
  readonly breakers?: Readonly<Record<string, BreakerLike>> | readonly BreakerLike[]
  /**
   * The cache's bus, to read its own counters (`stats()`): publishes that failed after retries,
   * queued messages, connection state. Without it, bus traffic is counted from the cache's
   * `bus` events, which cannot see failures a bus absorbs.
   * @default none
   */
  readonly bus?: BusLike
}

/** Default operation buckets, in seconds: L1 hits take microseconds, Redis and SQL milliseconds. */
export const DEFAULT_OPERATION_BUCKETS: readonly number[] = Object.freeze([
  0.000_001, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

/** Default loader buckets, in seconds. */
export const DEFAULT_LOADER_BUCKETS: readonly number[] = Object.freeze([
  0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
])

/** Options after validation. */
export interface ResolvedOptions {
  readonly prefix: string
  readonly buckets: readonly number[]
  readonly loaderBuckets: readonly number[]
  readonly namespaceLabel: boolean
  /** Operation timing on: the histogram is registered and each cache gets an observer. */
  readonly timing: boolean
  readonly breakers: Readonly<Record<string, BreakerLike>> | readonly BreakerLike[]
  readonly bus: BusLike | undefined
}

const PREFIX = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/

function buckets(
  value: readonly number[] | undefined,
  fallback: readonly number[],
  option: string,
): number[] {
  if (value === undefined) return [...fallback]
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidOptionError(`${option} must be a non-empty array of seconds`, { option })
  }
  for (const [i, b] of value.entries()) {
    if (typeof b !== 'number' || !Number.isFinite(b) || b <= 0 || (i > 0 && b <= (value[i - 1] as number))) {
      throw new InvalidOptionError(`${option} must be finite, positive and increasing (seconds)`, { option })
    }
  }
  return [...value]
}

/** Validates options; bad ones throw `InvalidOptionError` at once. */
export function resolveOptions(options: PrometheusMetricsOptions): ResolvedOptions {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('prometheusMetrics: options must be an object', { option: 'options' })
  }
  const prefix = options.prefix ?? 'cache_'
  if (typeof prefix !== 'string' || (prefix !== '' && !PREFIX.test(prefix))) {
    throw new InvalidOptionError('prefix must match [a-zA-Z_:][a-zA-Z0-9_:]*', { option: 'prefix' })
  }
  const timing: unknown = options.timing ?? true
  if (typeof timing !== 'boolean') {
    const removed =
      timing !== null && typeof timing === 'object' && 'maxPerSecond' in timing
        ? ': timing.maxPerSecond is gone, every operation is timed (L1 hits one in the cache option l1SampleEvery, weighted)'
        : ''
    throw new InvalidOptionError(`timing must be true or false${removed}`, { option: 'timing' })
  }
  const namespaceLabel = options.namespaceLabel ?? true
  if (typeof namespaceLabel !== 'boolean') {
    throw new InvalidOptionError('namespaceLabel must be a boolean', { option: 'namespaceLabel' })
  }
  const breakers = options.breakers ?? {}
  if (breakers === null || typeof breakers !== 'object') {
    throw new InvalidOptionError('breakers must be an object by level or an array', { option: 'breakers' })
  }
  for (const b of Object.values(breakers)) {
    if (b === null || typeof b !== 'object' || typeof (b as BreakerLike).state !== 'string') {
      throw new InvalidOptionError(
        'each breaker must have a `state` (use withBreaker from @tiercache/breaker)',
        {
          option: 'breakers',
        },
      )
    }
  }
  const bus = options.bus
  if (bus !== undefined && (bus === null || typeof bus !== 'object')) {
    throw new InvalidOptionError('bus must be the cache bus (an object with stats())', { option: 'bus' })
  }
  const registry = options.registry
  if (
    registry !== undefined &&
    (registry === null ||
      typeof registry.registerMetric !== 'function' ||
      typeof registry.metrics !== 'function')
  ) {
    throw new InvalidOptionError('registry must be a prom-client Registry', { option: 'registry' })
  }
  return {
    prefix,
    buckets: buckets(options.buckets, DEFAULT_OPERATION_BUCKETS, 'buckets'),
    loaderBuckets: buckets(options.loaderBuckets, DEFAULT_LOADER_BUCKETS, 'loaderBuckets'),
    namespaceLabel,
    timing,
    breakers,
    bus,
  }
}
