import type { Cache, CachePlugin, PluginContext } from '@tiercache/core'
import { InvalidOptionError } from '@tiercache/core'
import { Registry } from 'prom-client'
import { CacheSource } from './cache-source.js'
import { MetricSet } from './metric-set.js'
import { type PrometheusMetricsOptions, type RegistryLike, resolveOptions } from './options.js'

/** The plugin made by {@link prometheusMetrics}. */
export interface PrometheusMetricsPlugin extends CachePlugin {
  /** `'prometheus'`. */
  readonly name: string
  /** The registry holding the metrics: serve it with {@link metricsHandler}. */
  readonly registry: RegistryLike
  /**
   * Called by `createCache`: registers the metrics (on the first cache of the registry),
   * subscribes to the cache's events and, with timing on, registers an operation observer with
   * `context.observe()`. Returns the function `close()` calls to undo both; the cache's series
   * leave the registry with it, and the last cache of a registry removes the metrics.
   *
   * @param cache - the cache being created
   * @param context - what core tells plugins; `context.observe` times the operations
   */
  install(cache: Cache, context: PluginContext): () => void
}

/**
 * A cache plugin that exports the cache's counters, levels, breakers, bus and warming as
 * Prometheus metrics with prom-client, and times its operations into a histogram.
 *
 * One plugin per cache; several caches may share a registry (each gets its `namespace` label).
 * Counters that core keeps are read when the registry is scraped, so the L1 hit path pays
 * nothing for them. Operations are timed by an observer registered with the cache: every one
 * that leaves L1, and one L1 hit of `get` / `getOrSet` in `l1SampleEvery` (a `createCache`
 * option, default 64) weighted by that interval, so the histogram's `_count` counts every
 * operation (see {@link PrometheusMetricsOptions.timing}).
 *
 * @param options - registry, prefix, buckets, namespace label, timing on/off, breakers, bus
 * @returns the plugin, with its `registry`
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for bad options, or at `createCache` when a
 *   breaker names no level of the cache or the registry already holds a metric of the same name
 * @example
 * ```ts
 * import { createCache } from '@tiercache/core'
 * import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'
 * import { memoryStore } from '@tiercache/store-memory'
 *
 * const metrics = prometheusMetrics()
 * const cache = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [metrics] })
 * http.createServer(metricsHandler(metrics.registry)).listen(9464)
 * ```
 */
export function prometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetricsPlugin {
  const resolved = resolveOptions(options)
  const registry: RegistryLike = options.registry ?? new Registry()
  let installed: CacheSource | undefined
  return {
    name: 'prometheus',
    registry,
    install(cache: Cache, context: PluginContext): () => void {
      if (installed !== undefined) {
        throw new InvalidOptionError(
          'this prometheusMetrics() plugin already reports a cache; create one plugin per cache (they may share a registry)',
          { option: 'plugins' },
        )
      }
      if (resolved.timing && typeof context?.observe !== 'function') {
        throw new InvalidOptionError(
          'operation timing needs a @tiercache/core with operation observers (PluginContext.observe); update @tiercache/core or pass timing: false',
          { option: 'timing' },
        )
      }
      const set = MetricSet.for(registry, resolved)
      let source: CacheSource
      let unobserve: (() => void) | undefined
      try {
        source = new CacheSource(cache, resolved, set)
        set.add(source)
      } catch (error) {
        set.releaseIfUnused()
        throw error
      }
      if (source.operations !== undefined) {
        try {
          unobserve = context.observe(source.operations)
        } catch (error) {
          set.remove(source)
          throw error
        }
      }
      installed = source
      return () => {
        unobserve?.()
        set.remove(source)
        installed = undefined
      }
    },
  }
}
