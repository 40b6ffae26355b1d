/**
 * Prometheus metrics for tiercache: the `prometheusMetrics()` cache plugin and the
 * `metricsHandler()` for `/metrics`. Alert rules and a Grafana dashboard ship in the package
 * (`alerts/tiercache.rules.yml`, `dashboards/tiercache.json`).
 *
 * @module
 */
export { NO_LEVEL } from './cache-source.js'
export { BREAKER_STATE_VALUE } from './metric-set.js'
export { type MetricsRequest, type MetricsResponse, metricsHandler } from './metrics-handler.js'
export {
  type BreakerLike,
  type BreakerStateName,
  type BusLike,
  DEFAULT_LOADER_BUCKETS,
  DEFAULT_OPERATION_BUCKETS,
  type PrometheusMetricsOptions,
  type RegistryLike,
} from './options.js'
export { type PrometheusMetricsPlugin, prometheusMetrics } from './prometheus-metrics.js'
