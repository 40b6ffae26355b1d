/**
 * The seed's `CacheHitRatioLow`, verbatim, evaluated by promtool on the series this plugin
 * exports from a real cache (memory L1, the Redis on 127.0.0.1:6379 as L2: the seed's two
 * levels). Each "minute" of a run is a batch of reads with a known mix, followed by a scrape;
 * the scrapes become promtool's input series, one sample a minute. The shipped rule, the
 * README's per-level PromQL and the dashboard's hit-ratio panels are evaluated on the same kind
 * of series (a third level for the per-level ones).
 */
import { randomUUID } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Cache, createCache } from '@tiercache/core'
import { prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'
import { tempDir, uniqueName } from '@tiercache/test-kit'
import { load } from 'js-yaml'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { parseMetrics, plainRemote, select } from './helpers.js'
import { promtool } from './promql.js'

const url = 'redis://127.0.0.1:6379'

/** The seed's rule, as the seed prints it. */
const SEED_RULE = `groups:
  - name: seed
    rules:
      - alert: CacheHitRatioLow
        expr: rate(cache_hits_total[5m]) / (rate(cache_hits_total[5m]) + rate(cache_misses_total[5m])) < 0.8
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "Cache hit ratio baixo"
`
const root = join(import.meta.dirname, '..')
const shippedRules = join(root, 'alerts', 'tiercache.rules.yml')
const shipped = (
  load(readFileSync(shippedRules, 'utf8')) as {
    groups: { rules: { alert?: string; annotations: Record<string, string> }[] }[]
  }
).groups
  .flatMap((g) => g.rules)
  .find((r) => r.alert === 'CacheHitRatioLow')!

/** One minute of traffic: reads answered by L1, by L2 (not in L1), by L3 (in neither), and by no level. */
interface Minute {
  l1: number
  l2: number
  l3?: number
  none: number
}
const HEALTHY: Minute = { l1: 90, l2: 5, none: 5 } // 95%, L2 answers half of what reaches it
const LOW_L2: Minute = { l1: 85, l2: 2, none: 13 } // 87%, L2 answers 2 of the 15 reads that reach it
const DEGRADED: Minute = { l1: 50, l2: 10, none: 40 } // 60%
const COLLAPSED: Minute = { l1: 20, l2: 10, none: 70 } // 30%
const THREE_LEVELS: Minute = { l1: 70, l2: 10, l3: 10, none: 10 } // 90%; own ratios 70%, 1/3, 1/2

type SeriesValues = Map<string, { labels: Record<string, string>; values: number[] }>

/** A cache whose L1 hits, L2 hits and misses this test controls, scraped once a "minute". */
class Run {
  readonly namespace = uniqueName('ratio')
  readonly prefix = `tc-test:ratio:${randomUUID().slice(0, 8)}:`
  readonly metrics = prometheusMetrics()
  readonly cache: Cache
  /** Write straight to Redis (and to L3), so the cache finds those keys there and not above. */
  readonly writers: Cache[]
  /** Exported series (`cache_hits_total`, `cache_misses_total`), one value per scrape. */
  readonly exported: SeriesValues = new Map()
  /** The same reads counted per level, as `getStats().tiers` has them. */
  readonly perLevel: SeriesValues = new Map()
  #minute = 0

  /** Memory and Redis; with `l3`, an in-process remote store named `sql` below them. */
  constructor(options: { l3?: boolean } = {}) {
    const redis = () => redisStore({ url, prefix: this.prefix })
    const l3 = new Map()
    const sql = () => plainRemote({ name: 'sql', map: l3 })
    const below = options.l3 ? [redis(), sql()] : [redis()]
    this.cache = createCache({
      namespace: this.namespace,
      tiers: [memoryStore(), ...below],
      ttl: '1h',
      plugins: [this.metrics],
    })
    this.writers = [redis(), ...(options.l3 ? [sql()] : [])].map((store) =>
      createCache({ namespace: this.namespace, tiers: [store], ttl: '1h' }),
    )
  }

  async start(): Promise<void> {
    for (let i = 0; i < 10; i++) await this.cache.set(`hot:${i}`, { i })
    await this.scrape()
  }

  async minute(mix: Minute): Promise<void> {
    const m = this.#minute++
    for (let i = 0; i < mix.l1; i++) await this.cache.get(`hot:${i % 10}`)
    const [l2, l3] = this.writers as [Cache, Cache | undefined]
    for (let i = 0; i < mix.l2; i++) await l2.set(`warm:${m}:${i}`, { m, i })
    for (let i = 0; i < mix.l2; i++) await this.cache.get(`warm:${m}:${i}`)
    for (let i = 0; i < (mix.l3 ?? 0); i++) await l3!.set(`cool:${m}:${i}`, { m, i })
    for (let i = 0; i < (mix.l3 ?? 0); i++) await this.cache.get(`cool:${m}:${i}`)
    for (let i = 0; i < mix.none; i++) await this.cache.get(`cold:${m}:${i}`)
    await this.scrape()
  }

  async minutes(mix: Minute, n: number): Promise<void> {
    for (let i = 0; i < n; i++) await this.minute(mix)
  }

  async scrape(): Promise<void> {
    const samples = parseMetrics(await this.metrics.registry.metrics())
    for (const name of ['cache_hits_total', 'cache_misses_total']) {
      for (const s of select(samples, name, { namespace: this.namespace })) {
        const id = `${name}${JSON.stringify(s.labels)}`
        const series = this.exported.get(id) ?? { labels: { __name__: name, ...s.labels }, values: [] }
        series.values.push(s.value)
        this.exported.set(id, series)
      }
    }
    for (const tier of this.cache.getStats().tiers) {
      for (const [name, value] of [
        ['cache_hits_total', tier.hits],
        ['cache_misses_total', tier.misses],
      ] as const) {
        const labels = { __name__: name, namespace: this.namespace, level: tier.level }
        const id = JSON.stringify(labels)
        const series = this.perLevel.get(id) ?? { labels, values: [] as number[] }
        series.values.push(value)
        this.perLevel.set(id, series)
      }
    }
  }

  /** The last value of an exported series. */
  last(name: string, level: string): number {
    const series = this.exported.get(`${name}${JSON.stringify({ namespace: this.namespace, level })}`)
    if (series === undefined) throw new Error(`no ${name}{level="${level}"} exported`)
    return series.values.at(-1) as number
  }

  async close(): Promise<void> {
    await this.cache.clear()
    await Promise.all([this.cache.close(), ...this.writers.map((w) => w.close())])
  }
}

/** A check at minute `at`: the alerts firing then (their labels besides alertname), or none. */
interface Check {
  at: number
  firing: Record<string, string>[]
}

/** An expression and the one series it should give at a minute (its value within 1e-9), or none. */
interface ExprCheck {
  at: number
  expr: string
  want: { labels: Record<string, string>; value: number } | undefined
}

/** promtool's input series: one sample a minute. */
function inputSeries(series: SeriesValues): { series: string; values: string }[] {
  return [...series.values()].map(({ labels, values }) => {
    const { __name__, ...rest } = labels
    const selector = `${__name__}{${Object.entries(rest)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',')}}`
    return { series: selector, values: values.join(' ') }
  })
}

/** Runs `promtool test rules` on a test file made of `test`; resolves its output (SUCCESS or why not). */
async function promtoolTest(rules: string, test: Record<string, unknown>): Promise<string> {
  const { dir, remove: removeDir } = tempDir('tiercache-ratio')
  try {
    const rulesFile = join(dir, 'rules.yml')
    writeFileSync(rulesFile, rules)
    const file = { rule_files: [rulesFile], evaluation_interval: '1m', tests: [{ interval: '1m', ...test }] }
    writeFileSync(join(dir, 'test.yml'), JSON.stringify(file, null, 2)) // JSON is YAML
    return await promtool('test', 'rules', join(dir, 'test.yml'))
  } catch (error) {
    return (error as Error).message
  } finally {
    removeDir()
  }
}

/** Evaluates `rules` on `series` (one sample a minute) and checks which alerts fire when. */
function evaluate(
  rules: string,
  series: SeriesValues,
  checks: Check[],
  annotations: (labels: Record<string, string>) => Record<string, string>,
): Promise<string> {
  return promtoolTest(rules, {
    input_series: inputSeries(series),
    alert_rule_test: checks.map((c) => ({
      eval_time: `${c.at}m`,
      alertname: 'CacheHitRatioLow',
      exp_alerts: c.firing.map((labels) => ({ exp_labels: labels, exp_annotations: annotations(labels) })),
    })),
  })
}

/** Evaluates expressions on `series`: each must give exactly the series wanted, with its value. */
function evaluateExprs(series: SeriesValues, checks: ExprCheck[]): Promise<string> {
  return promtoolTest('groups: []\n', {
    input_series: inputSeries(series),
    promql_expr_test: checks.map(({ at, expr, want }) => ({
      eval_time: `${at}m`,
      // `bool` keeps every series the expression gives: 1 when within 1e-9 of the value wanted.
      expr: `abs((${expr}) - ${want?.value ?? 0}) < bool 1e-9`,
      exp_samples:
        want === undefined
          ? []
          : [
              {
                labels: `{${Object.entries(want.labels)
                  .map(([k, v]) => `${k}="${v}"`)
                  .join(',')}}`,
                value: 1,
              },
            ],
    })),
  })
}

const seed = (series: SeriesValues, checks: Check[]) =>
  evaluate(SEED_RULE, series, checks, () => ({ summary: 'Cache hit ratio baixo' }))

const shippedRule = (series: SeriesValues, checks: Check[]) =>
  evaluate(readFileSync(shippedRules, 'utf8'), series, checks, (labels) =>
    Object.fromEntries(
      Object.entries(shipped.annotations).map(([k, v]) => [
        k,
        v.replace(/\{\{ \$labels\.(\w+) \}\}/g, (_, name: string) => labels[name] ?? ''),
      ]),
    ),
  )

/** `quiet` from minute `from` to minute `to`, every minute. */
function quiet(from: number, to: number): Check[] {
  return Array.from({ length: to - from + 1 }, (_, i) => ({ at: from + i, firing: [] }))
}

const runs: Run[] = []
afterAll(async () => {
  await Promise.all(runs.map((r) => r.close()))
})

function newRun(options: { l3?: boolean } = {}): Run {
  const run = new Run(options)
  runs.push(run)
  return run
}

const healthy = newRun()
const lowL2 = newRun()
const degraded = newRun()
const three = newRun({ l3: true })
beforeAll(async () => {
  await Promise.all(runs.map((r) => r.start()))
  await Promise.all([
    healthy.minutes(HEALTHY, 20),
    lowL2.minutes(LOW_L2, 20),
    (async () => {
      await degraded.minutes(HEALTHY, 6) // minutes 1-6
      await degraded.minutes(DEGRADED, 12) // minutes 7-18: 60% of reads answered
      await degraded.minutes(COLLAPSED, 22) // minutes 19-40: 30%
    })(),
    three.minutes(THREE_LEVELS, 20),
  ])
}, 180_000) // about 10,000 reads and 100 scrapes: 4 s here, 15 s with every core saturated

describe("the seed's CacheHitRatioLow, verbatim, on exported series (memory + Redis)", () => {
  test('the exported series: hits at or above each level, misses on the last level only', () => {
    const ns = healthy.namespace
    expect([...healthy.exported.keys()].sort()).toEqual(
      [
        `cache_hits_total{"namespace":"${ns}","level":"l1_memory"}`,
        `cache_hits_total{"namespace":"${ns}","level":"l2_redis"}`,
        `cache_misses_total{"namespace":"${ns}","level":"l2_redis"}`,
      ].sort(),
    )
    expect(healthy.last('cache_hits_total', 'l1_memory')).toBe(20 * HEALTHY.l1)
    expect(healthy.last('cache_hits_total', 'l2_redis')).toBe(20 * (HEALTHY.l1 + HEALTHY.l2))
    expect(healthy.last('cache_misses_total', 'l2_redis')).toBe(20 * HEALTHY.none)
    expect(lowL2.last('cache_hits_total', 'l2_redis')).toBe(20 * (LOW_L2.l1 + LOW_L2.l2))
    expect(lowL2.last('cache_misses_total', 'l2_redis')).toBe(20 * LOW_L2.none)
    const stats = degraded.cache.getStats()
    expect(degraded.last('cache_hits_total', 'l2_redis')).toBe(stats.hits)
    expect(degraded.last('cache_misses_total', 'l2_redis')).toBe(stats.misses)
  })

  test('a healthy cache (95% of reads answered): no alert', async () => {
    expect(await seed(healthy.exported, quiet(1, 20))).toContain('SUCCESS')
  })

  test('a healthy cache whose L2 answers few of the reads that reach it (87% overall, L2 13%): no alert', async () => {
    expect(await seed(lowL2.exported, quiet(1, 20))).toContain('SUCCESS')
    // The same run counted per level (the series before this design) fires on l2_redis: the
    // expression is evaluated per label set, and L2's own ratio is 2 in 15.
    expect(
      await seed(lowL2.perLevel, [
        { at: 19, firing: [{ severity: 'warning', namespace: lowL2.namespace, level: 'l2_redis' }] },
      ]),
    ).toContain('SUCCESS')
  })

  test('a cache whose ratio drops to 60%: pending, then firing after its 5 minutes, on the last level', async () => {
    const firing = [{ severity: 'warning', namespace: degraded.namespace, level: 'l2_redis' }]
    // Healthy until minute 6; the 5-minute rate is under 0.8 from minute 9 (3 degraded minutes
    // of the 5 in its window), so the alert fires from minute 14. (Prometheus 3 selects one
    // sample less per window: under 0.8 from minute 8, firing from 13.)
    const out = await seed(degraded.exported, [
      ...quiet(1, 12),
      { at: 14, firing },
      { at: 18, firing },
      { at: 40, firing },
    ])
    expect(out).toContain('SUCCESS')
  })
})

describe('the shipped CacheHitRatioLow on the same exported series', () => {
  test('stays quiet on the healthy runs and at 60%, fires at 30% after 15 minutes', async () => {
    expect(await shippedRule(healthy.exported, quiet(1, 20))).toContain('SUCCESS')
    expect(await shippedRule(lowL2.exported, quiet(1, 20))).toContain('SUCCESS')
    // 60% from minute 7 to 18: above the shipped 0.5. 30% from minute 19: the 5-minute rate is
    // under 0.5 from minute 20, so the alert fires from minute 35.
    const firing = [{ severity: 'warning', namespace: degraded.namespace }]
    expect(
      await shippedRule(degraded.exported, [...quiet(1, 34), { at: 35, firing }, { at: 40, firing }]),
    ).toContain('SUCCESS')
  })
})

/** The README's ```promql block: each expression with the comment above it. */
function readmePromql(): { title: string; expr: string }[] {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = /```promql\n([\s\S]*?)```/.exec(readme)?.[1]
  if (block === undefined) throw new Error('the README has no ```promql block')
  return block
    .trim()
    .split(/\n\s*\n/)
    .map((chunk) => {
      const lines = chunk.split('\n')
      return {
        title: lines.filter((l) => l.startsWith('#')).join(' '),
        expr: lines.filter((l) => !l.startsWith('#')).join('\n'),
      }
    })
}

interface Panel {
  title: string
  targets?: { expr: string; refId: string }[]
}
const dashboard = JSON.parse(readFileSync(join(root, 'dashboards', 'tiercache.json'), 'utf8')) as {
  panels: Panel[]
}
/** A dashboard query, with its variables set for one cache and 5-minute rates. */
function panelQuery(title: string, refId: string, namespace: string): string {
  const target = dashboard.panels.find((p) => p.title === title)?.targets?.find((t) => t.refId === refId)
  if (target === undefined) throw new Error(`no query ${refId} in the dashboard panel "${title}"`)
  return target.expr.replaceAll('$namespace', namespace).replaceAll('$__rate_interval', '5m')
}

describe('per-level numbers derive from the exported series (memory, Redis, a third level)', () => {
  const two = lowL2
  test('the three-level series: cumulative hits, misses on l3_sql', () => {
    expect(three.last('cache_hits_total', 'l1_memory')).toBe(20 * 70)
    expect(three.last('cache_hits_total', 'l2_redis')).toBe(20 * 80)
    expect(three.last('cache_hits_total', 'l3_sql')).toBe(20 * 90)
    expect(three.last('cache_misses_total', 'l3_sql')).toBe(20 * 10)
    expect(three.cache.getStats().tiers.map((t) => t.hits)).toEqual([20 * 70, 20 * 10, 20 * 10])
  })

  test("the README's PromQL gives what its comments say", async () => {
    const ns = three.namespace
    const derivations = readmePromql()
    const want = [
      { labels: { namespace: ns, level: 'l3_sql' }, value: 0.9 }, // the hit ratio
      { labels: { namespace: ns, level: 'l3_sql' }, value: 100 / 60 }, // reads per second
      { labels: { namespace: ns }, value: 0.7 }, // L1's own ratio
      { labels: { namespace: ns }, value: 10 / 30 }, // L2's own ratio
      { labels: { namespace: ns }, value: 10 / 20 }, // L3's own ratio
      { labels: { namespace: ns }, value: 10 / 60 }, // L2's reads per second
    ]
    expect(derivations.map((d) => d.title)).toHaveLength(want.length)
    const out = await evaluateExprs(
      three.exported,
      derivations.map((d, i) => ({ at: 20, expr: d.expr, want: want[i] })),
    )
    expect(out, derivations.map((d) => d.title).join('\n')).toContain('SUCCESS')
  })

  test("the dashboard's hit ratio and reads panels", async () => {
    const ns = three.namespace
    const at = (level: string) => ({ namespace: ns, level })
    const checks: ExprCheck[] = [
      ['Hit ratio (all levels)', 'A', { namespace: ns }, 0.9],
      ['Hit ratio per level', 'A', at('l1_memory'), 0.7],
      ['Hit ratio per level', 'B', at('l2_redis'), 10 / 30],
      ['Hit ratio per level', 'C', at('l3_sql'), 10 / 20],
      ['Reads per second by answering level', 'A', at('l1_memory'), 70 / 60],
      ['Reads per second by answering level', 'B', at('l2_redis'), 10 / 60],
      ['Reads per second by answering level', 'C', at('l3_sql'), 10 / 60],
      ['Reads per second by answering level', 'D', { namespace: ns }, 10 / 60],
    ].map(([title, ref, labels, value]) => ({
      at: 20,
      expr: panelQuery(title as string, ref as string, ns),
      want: { labels: labels as Record<string, string>, value: value as number },
    }))
    expect(await evaluateExprs(three.exported, checks)).toContain('SUCCESS')
    // Two levels: no third line; L2's own ratio is 2 of 15.
    const twoLevels: ExprCheck[] = [
      ['Hit ratio (all levels)', 'A', { namespace: two.namespace }, 0.87],
      ['Hit ratio per level', 'B', { namespace: two.namespace, level: 'l2_redis' }, 2 / 15],
      ['Hit ratio per level', 'C', undefined, 0],
      ['Reads per second by answering level', 'C', undefined, 0],
    ].map(([title, ref, labels, value]) => ({
      at: 20,
      expr: panelQuery(title as string, ref as string, two.namespace),
      want:
        labels === undefined
          ? undefined
          : { labels: labels as Record<string, string>, value: value as number },
    }))
    expect(await evaluateExprs(two.exported, twoLevels)).toContain('SUCCESS')
  })
})
