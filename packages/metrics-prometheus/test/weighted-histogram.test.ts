/**
 * The weighted histogram against prom-client's own `Histogram`: an observation of weight w must
 * export exactly what w plain observations export, through every path of prom-client's registry
 * (text, OpenMetrics, JSON, default labels, cluster aggregation, reset).
 */
import { AggregatorRegistry, Histogram, type Metric, Registry, type RegistryContentType } from 'prom-client'
import { describe, expect, test } from 'vitest'
import { WeightedHistogram } from '../src/weighted-histogram.js'
import { one, parseMetrics, select } from './helpers.js'

const config = { name: 'op_seconds', help: 'Operation time.', labelNames: ['namespace', 'operation'] }
// Durations and bounds that are exact in binary, so sums compare exactly.
const buckets = [0.25, 0.5, 1, 2]
const observations: [Record<string, string>, number, number][] = [
  [{ namespace: 'app', operation: 'get' }, 0.125, 64],
  [{ namespace: 'app', operation: 'get' }, 0.5, 1], // on a bound: le="0.5"
  [{ namespace: 'app', operation: 'get' }, 0.75, 3],
  [{ namespace: 'app', operation: 'set' }, 4, 1], // past the last bound: +Inf only
  [{ namespace: 'other', operation: 'get' }, 1.5, 2],
]

/** A prom-client Histogram and a WeightedHistogram fed the same traffic, in their own registries. */
function pair(contentType?: typeof Registry.OPENMETRICS_CONTENT_TYPE) {
  // prom-client's types omit the constructor's content type argument; setContentType is typed.
  const registry = () => {
    const r = new Registry<RegistryContentType>()
    if (contentType !== undefined) r.setContentType(contentType)
    return r
  }
  const plain = registry()
  const weighted = registry()
  const reference = new Histogram({ ...config, buckets, registers: [plain] })
  const histogram = new WeightedHistogram({ ...config, buckets })
  weighted.registerMetric(histogram as unknown as Metric)
  for (const [labels, seconds, weight] of observations) {
    for (let i = 0; i < weight; i++) reference.observe(labels, seconds)
    histogram.observe(labels, seconds, weight)
  }
  return { plain, weighted, reference, histogram }
}

/** JSON values without prom-client's `exemplar: null`, which the weighted histogram omits. */
async function json(registry: Registry<RegistryContentType>) {
  return (await registry.getMetricsAsJSON()).map((m) => ({
    ...m,
    values: m.values.map(({ labels, value, metricName }: any) => ({ labels, value, metricName })),
  }))
}

describe('WeightedHistogram', () => {
  test('an observation of weight w exports what w plain observations export (Prometheus text)', async () => {
    const { plain, weighted } = pair()
    expect(await weighted.metrics()).toBe(await plain.metrics())
    const s = parseMetrics(await weighted.metrics())
    const get = { namespace: 'app', operation: 'get' }
    expect(select(s, 'op_seconds_bucket', get).map((x) => [x.labels.le, x.value])).toEqual([
      ['0.25', 64],
      ['0.5', 65],
      ['1', 68],
      ['2', 68],
      ['+Inf', 68],
    ])
    expect(one(s, 'op_seconds_sum', get)).toBe(64 * 0.125 + 0.5 + 3 * 0.75)
    expect(one(s, 'op_seconds_count', get)).toBe(68)
    expect(one(s, 'op_seconds_bucket', { operation: 'set', le: '2' })).toBe(0)
    expect(one(s, 'op_seconds_bucket', { operation: 'set', le: '+Inf' })).toBe(1)
  })

  test('OpenMetrics, default labels and getMetricsAsJSON match prom-client too', async () => {
    const open = pair(Registry.OPENMETRICS_CONTENT_TYPE)
    expect(await open.weighted.metrics()).toBe(await open.plain.metrics())
    const { plain, weighted } = pair()
    for (const r of [plain, weighted]) r.setDefaultLabels({ instance: 'a' })
    expect(await weighted.metrics()).toBe(await plain.metrics())
    expect(await json(weighted)).toEqual(await json(plain))
    const [metric] = await weighted.getMetricsAsJSON()
    expect(metric).toMatchObject({ name: 'op_seconds', type: 'histogram', aggregator: 'sum' })
    expect(metric!.values[0]).toEqual({
      labels: { le: 0.25, namespace: 'app', operation: 'get', instance: 'a' },
      value: 64,
      metricName: 'op_seconds_bucket',
    })
  })

  test('cluster aggregation sums workers like prom-client histograms', async () => {
    const a = pair()
    const b = pair()
    const ours = AggregatorRegistry.aggregate([
      await a.weighted.getMetricsAsJSON(),
      await b.weighted.getMetricsAsJSON(),
    ])
    const theirs = AggregatorRegistry.aggregate([
      await a.plain.getMetricsAsJSON(),
      await b.plain.getMetricsAsJSON(),
    ])
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(
      one(parseMetrics(await ours.metrics()), 'op_seconds_count', { namespace: 'app', operation: 'get' }),
    ).toBe(136)
  })

  test('series handles, removal and reset', async () => {
    const { weighted, histogram } = pair()
    const handle = histogram.series({ operation: 'get', namespace: 'app' }) // any key order
    expect(handle).toBe(histogram.series({ namespace: 'app', operation: 'get' }))
    handle.observe(0.25, 10)
    expect(
      one(parseMetrics(await weighted.metrics()), 'op_seconds_count', { operation: 'get', namespace: 'app' }),
    ).toBe(78)
    expect(histogram.size).toBe(3)
    histogram.remove({ namespace: 'other', operation: 'get' })
    histogram.removeSeries(handle)
    let s = parseMetrics(await weighted.metrics())
    expect(select(s, 'op_seconds_count').map((x) => x.labels)).toEqual([
      { namespace: 'app', operation: 'set' },
    ])
    // A removed series starts again from zero when observed through the registry's API.
    histogram.observe({ namespace: 'app', operation: 'get' }, 0.25, 2)
    expect(one(parseMetrics(await weighted.metrics()), 'op_seconds_count', { operation: 'get' })).toBe(2)
    weighted.resetMetrics()
    s = parseMetrics(await weighted.metrics())
    expect(select(s, 'op_seconds_count').map((x) => x.value)).toEqual([0, 0])
    expect(select(s, 'op_seconds_sum').map((x) => x.value)).toEqual([0, 0])
  })

  test('durations or weights that would corrupt the sum are ignored; bad labels and configs throw', async () => {
    const histogram = new WeightedHistogram({ ...config, buckets })
    const labels = { namespace: 'app', operation: 'get' }
    for (const [seconds, weight] of [
      [Number.NaN, 1],
      [-1, 1],
      [Number.POSITIVE_INFINITY, 1],
      [0.1, 0],
      [0.1, -2],
      [0.1, Number.NaN],
    ] as const) {
      histogram.observe(labels, seconds, weight)
    }
    const { values } = await histogram.get()
    expect(values.filter((v) => v.metricName !== 'op_seconds_bucket').map((v) => v.value)).toEqual([0, 0])
    expect(() => histogram.observe({ namespace: 'app' }, 1)).toThrow(/operation/)
    expect(() => histogram.observe({ ...labels, level: 'l1' }, 1)).toThrow(/level/)
    expect(() => new WeightedHistogram({ ...config, labelNames: ['le'], buckets })).toThrow(/le/)
    expect(() => new WeightedHistogram({ ...config, name: 'a-b', buckets })).toThrow(/name/)
    expect(() => new WeightedHistogram({ ...config, buckets: [1, 0.5] })).toThrow(/increasing/)
  })
})
