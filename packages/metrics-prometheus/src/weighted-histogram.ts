/**
 * A Prometheus histogram whose observations carry a weight, served through prom-client's
 * `Registry`. prom-client's own `Histogram.observe(labels, value)` counts one per call; core's
 * operation observers report a sampled L1 hit with `weight = l1SampleEvery`, so this collector
 * adds the weight instead: to the bucket the duration falls in, to `_count`, and `weight ×
 * seconds` to `_sum`.
 *
 * It exposes exactly the series of a prom-client histogram (`<name>_bucket{…,le}` cumulative and
 * ending with `le="+Inf"`, `<name>_sum`, `<name>_count`) in the shape prom-client's `Registry`
 * reads: `getForPromString()` for the text formats (labels `{ le }` plus `sharedLabels`, as
 * `lib/histogram.js` does) and `get()` for `getMetricsAsJSON()` and cluster aggregation (every
 * label in `labels`, with `metricName` naming the series).
 *
 * @module
 */
import { InvalidOptionError } from '@tiercache/core'

/** Label values of one series, by label name. */
export type Labels = Readonly<Record<string, string>>

/** A value of a metric as prom-client's `Registry` reads it from `get()`. */
export interface HistogramValue {
  /** The series' labels, `le` included for buckets. */
  readonly labels: Readonly<Record<string, string | number>>
  /** Cumulative count (buckets, `_count`) or sum of seconds (`_sum`). */
  readonly value: number
  /** `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  readonly metricName: string
}

/** A value as prom-client's `Registry` reads it from `getForPromString()`. */
export interface HistogramStringValue extends HistogramValue {
  /** The series' labels, printed after `labels` (which hold only `le`, or nothing). */
  readonly sharedLabels: Labels
}

/** What `get()` and `getForPromString()` return: prom-client's `MetricObjectWithValues`. */
export interface HistogramSnapshot<V extends HistogramValue> {
  /** Metric name, without suffix. */
  readonly name: string
  /** HELP text. */
  readonly help: string
  /** Always `'histogram'`. */
  readonly type: 'histogram'
  /** The series, in prom-client's order: each series' buckets, `+Inf`, `_sum`, `_count`. */
  readonly values: V[]
  /** How cluster aggregation combines workers: `'sum'`. */
  readonly aggregator: 'sum'
}

/** Configuration of a {@link WeightedHistogram}. */
export interface WeightedHistogramConfig {
  /** Metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
  readonly name: string
  /** HELP text. */
  readonly help: string
  /** Label names, in the order series print them; `le` is reserved. */
  readonly labelNames: readonly string[]
  /** Upper bounds of the buckets, in seconds: finite, positive, increasing. `+Inf` is implied. */
  readonly buckets: readonly number[]
}

/**
 * One label set of a {@link WeightedHistogram}: per-bucket counts (not cumulative), sum and
 * count. Obtain it once with {@link WeightedHistogram.series} and call {@link observe} on it: the
 * label lookup is then paid once, not per observation.
 */
export class WeightedSeries {
  /** The label values, in the histogram's label order. */
  readonly labels: Labels
  /** Weight of the observations of each bucket alone (not cumulative), by bucket index. */
  readonly counts: Float64Array
  /** Sum of `seconds × weight`. */
  sum = 0
  /** Sum of the weights. */
  count = 0
  readonly #bounds: Float64Array

  /** @internal made by {@link WeightedHistogram.series} */
  constructor(labels: Labels, bounds: Float64Array) {
    this.labels = labels
    this.#bounds = bounds
    this.counts = new Float64Array(bounds.length)
  }

  /**
   * Records `weight` operations that took `seconds` each: adds `weight` to the first bucket whose
   * bound is at least `seconds` (none past the last bound: only `+Inf`, which is `count`), to
   * `count`, and `seconds × weight` to `sum`. A negative or non-finite duration or a weight that
   * is not positive and finite is ignored (it would make `_sum` meaningless).
   *
   * @param seconds - the duration, in seconds
   * @param weight - how many operations it stands for
   */
  observe(seconds: number, weight: number): void {
    if (
      !(seconds >= 0 && seconds < Number.POSITIVE_INFINITY && weight > 0 && weight < Number.POSITIVE_INFINITY)
    ) {
      return
    }
    const bounds = this.#bounds
    const n = bounds.length
    let i = 0
    while (i < n && seconds > (bounds[i] as number)) i++
    if (i < n) this.counts[i] = (this.counts[i] as number) + weight
    this.count += weight
    this.sum += seconds * weight
  }

  /** Back to zero. */
  reset(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
}

const SEPARATOR = '\u0000'

/**
 * A histogram with weighted observations, registered in a prom-client `Registry` with
 * `registry.registerMetric(histogram as unknown as Metric)`: the registry reads its `name`,
 * `help`, `type`, `aggregator`, and calls `get()` / `getForPromString()` / `reset()`.
 */
export class WeightedHistogram {
  /** Metric name, without suffix. */
  readonly name: string
  /** HELP text. */
  readonly help: string
  /** `'histogram'`: the registry prints it in `# TYPE`. */
  readonly type: 'histogram' = 'histogram'
  /** Cluster aggregation sums workers, as for prom-client's histograms. */
  readonly aggregator: 'sum' = 'sum'
  /** Label names, in print order. */
  readonly labelNames: readonly string[]
  /** Bucket upper bounds, in seconds, without `+Inf`. */
  readonly upperBounds: readonly number[]
  readonly #bounds: Float64Array
  /** `{ le }` label objects of the buckets, shared by every series in the text output. */
  readonly #le: readonly { readonly le: number | string }[]
  /** Series by their label values joined with NUL. */
  readonly #series = new Map<string, WeightedSeries>()
  /** Series by the label objects {@link observe} was called with (callers reuse them). */
  readonly #byObject = new Map<object, WeightedSeries>()

  /** @throws InvalidOptionError (`E_INVALID_OPTION`) for an invalid name, a reserved `le` label or invalid buckets */
  constructor(config: WeightedHistogramConfig) {
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(config.name))
      throw new InvalidOptionError(`invalid metric name "${config.name}"`)
    if (typeof config.help !== 'string' || config.help === '')
      throw new InvalidOptionError('a histogram needs help text')
    for (const label of config.labelNames) {
      if (label === 'le' || !/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(label) || label.startsWith('__')) {
        throw new InvalidOptionError(`invalid or reserved label name "${label}"`)
      }
    }
    config.buckets.forEach((b, i) => {
      if (!Number.isFinite(b) || (i > 0 && b <= (config.buckets[i - 1] as number))) {
        throw new InvalidOptionError('histogram buckets must be finite and increasing')
      }
    })
    this.name = config.name
    this.help = config.help
    this.labelNames = [...config.labelNames]
    this.upperBounds = Object.freeze([...config.buckets])
    this.#bounds = Float64Array.from(config.buckets)
    this.#le = [...config.buckets.map((le) => ({ le })), { le: '+Inf' }]
  }

  /**
   * The series of these labels, created at zero on first use. Keep it and call
   * {@link WeightedSeries.observe} on it for a hot path.
   *
   * @param labels - a value for every label name (extra names are refused)
   * @throws InvalidOptionError (`E_INVALID_OPTION`) when a label is missing or unknown
   */
  series(labels: Labels): WeightedSeries {
    const names = this.labelNames
    for (const name of Object.keys(labels)) {
      if (!names.includes(name)) throw new InvalidOptionError(`${this.name} has no label "${name}"`)
    }
    const values: string[] = []
    const normalized: Record<string, string> = {}
    for (const name of names) {
      const value = labels[name]
      if (value === undefined) throw new InvalidOptionError(`${this.name} needs a value for label "${name}"`)
      values.push(String(value))
      normalized[name] = String(value)
    }
    const key = values.join(SEPARATOR)
    let series = this.#series.get(key)
    if (series === undefined) {
      series = new WeightedSeries(Object.freeze(normalized), this.#bounds)
      this.#series.set(key, series)
    }
    return series
  }

  /**
   * Records `weight` operations of `seconds` each in the series of `labels`; see
   * {@link WeightedSeries.observe}. Reuse the same `labels` object for the same series: it is
   * then found with one identity lookup.
   *
   * @param labels - label values
   * @param seconds - the duration, in seconds
   * @param weight - how many operations the observation stands for (default 1)
   */
  observe(labels: Labels, seconds: number, weight = 1): void {
    let series = this.#byObject.get(labels)
    if (series === undefined) {
      series = this.series(labels)
      this.#byObject.set(labels, series)
    }
    series.observe(seconds, weight)
  }

  /** Removes the series of these labels (for example when the cache they describe closes). */
  remove(labels: Labels): void {
    const key = this.labelNames.map((name) => String(labels[name])).join(SEPARATOR)
    const series = this.#series.get(key)
    if (series !== undefined) this.removeSeries(series)
  }

  /** Removes a series obtained from {@link series}; later observations on it are not exported. */
  removeSeries(series: WeightedSeries): void {
    const key = this.labelNames.map((name) => series.labels[name]).join(SEPARATOR)
    if (this.#series.get(key) === series) this.#series.delete(key)
    for (const [labels, s] of this.#byObject) if (s === series) this.#byObject.delete(labels)
  }

  /** Number of series. */
  get size(): number {
    return this.#series.size
  }

  /** `Registry.resetMetrics()`: every series back to zero (the series stay, with their handles). */
  reset(): void {
    for (const series of this.#series.values()) series.reset()
  }

  /** What `registry.getMetricsAsJSON()` and cluster aggregation read: every label in `labels`. */
  async get(): Promise<HistogramSnapshot<HistogramValue>> {
    const values: HistogramValue[] = []
    const bucket = `${this.name}_bucket`
    const sum = `${this.name}_sum`
    const count = `${this.name}_count`
    for (const series of this.#series.values()) {
      let acc = 0
      for (let i = 0; i < this.#le.length; i++) {
        acc = i < series.counts.length ? acc + (series.counts[i] as number) : series.count
        values.push({ labels: { ...this.#le[i], ...series.labels }, value: acc, metricName: bucket })
      }
      values.push({ labels: { ...series.labels }, value: series.sum, metricName: sum })
      values.push({ labels: { ...series.labels }, value: series.count, metricName: count })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }

  /**
   * What the registry prints (`metrics()`): labels `{ le }` or `{}`, the series' labels as
   * `sharedLabels` (printed after `le`, as prom-client's histograms print them).
   */
  async getForPromString(): Promise<HistogramSnapshot<HistogramStringValue>> {
    const values: HistogramStringValue[] = []
    const bucket = `${this.name}_bucket`
    const sum = `${this.name}_sum`
    const count = `${this.name}_count`
    const none = {}
    for (const series of this.#series.values()) {
      const shared = series.labels
      let acc = 0
      for (let i = 0; i < this.#le.length; i++) {
        acc = i < series.counts.length ? acc + (series.counts[i] as number) : series.count
        values.push({
          labels: this.#le[i] as { le: number | string },
          sharedLabels: shared,
          value: acc,
          metricName: bucket,
        })
      }
      values.push({ labels: none, sharedLabels: shared, value: series.sum, metricName: sum })
      values.push({ labels: none, sharedLabels: shared, value: series.count, metricName: count })
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator }
  }
}
