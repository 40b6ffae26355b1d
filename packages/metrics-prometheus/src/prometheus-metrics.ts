import type { Cache, CachePlugin } from '@tiercache/core'
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
   * Called by `createCache`: registers the metrics (on the first cache of the registry) and
   * subscribes to the cache. Returns the function `close()` calls to unsubscribe; the last cache
   * of a registry to close removes the metrics from it.
   */
  install(cache: Cache): () => void
}

/**
 * A cache plugin that exports the cache's counters, levels, breakers, bus and warming as
 * Prometheus metrics with prom-client, and times its operations into a histogram.
 *
 * One plugin per cache; several caches may share a registry (each gets its `namespace` label).
 * Counters that core keeps are read when the registry is scraped, so the L1 hit path pays
 * nothing for them; operation timing has a per-second budget (see {@link TimingOptions}).
 *
 * @param options - registry, prefix, buckets, namespace label, timing budget, breakers, bus
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
    install(cache: Cache): () => void {
      if (installed !== undefined) {
        throw new InvalidOptionError(
          'this prometheusMetrics() plugin already reports a cache; create one plugin per cache (they may share a registry)',
          { option: 'plugins' },
        )
      }
      const set = MetricSet.for(registry, resolved)
      let source: CacheSource
      try {
        source = new CacheSource(cache, resolved, set)
        set.add(source)
      } catch (error) {
        set.releaseIfUnused()
        throw error
      }
      installed = source
      return () => {
        set.remove(source)
        installed = undefined
      }
    },
  }
}
