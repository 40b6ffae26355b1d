import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, describe, expect, test } from 'vitest'
import { checkPromQL, exportedMetricNames, metricNames } from './promql.js'

interface Panel {
  type: string
  title: string
  targets?: { expr: string; refId: string }[]
  panels?: Panel[]
  gridPos: { h: number; w: number; x: number; y: number }
}

const dashboard = JSON.parse(
  readFileSync(join(import.meta.dirname, '..', 'dashboards', 'tiercache.json'), 'utf8'),
)
const panels: Panel[] = (dashboard.panels as Panel[]).flatMap((p) => [p, ...(p.panels ?? [])])
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })))
const variables = (dashboard.templating.list as { name: string; query?: string | { query: string } }[]).map(
  (v) => ({ name: v.name, query: typeof v.query === 'string' ? v.query : v.query?.query }),
)

let exported: Set<string>
beforeAll(async () => {
  exported = await exportedMetricNames()
})

describe('dashboards/tiercache.json', () => {
  test('is a Grafana dashboard with panels that all have queries', () => {
    expect(dashboard.uid).toBe('tiercache')
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36)
    for (const p of panels.filter((x) => x.type !== 'row')) {
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24)
    }
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length)
  })

  test('every panel query names only metrics the plugin exports', () => {
    expect(queries.length).toBeGreaterThan(20)
    for (const { panel, expr } of queries) {
      const names = metricNames(expr)
      expect(names.length, `${panel}: ${expr}`).toBeGreaterThan(0)
      for (const name of names) expect(exported, `${panel}: ${name}`).toContain(name)
    }
    const namespace = variables.find((v) => v.name === 'namespace')!
    for (const name of metricNames(namespace.query!.replace(/^label_values\((\w+),.*$/, '$1'))) {
      expect(exported).toContain(name)
    }
  })

  test('every panel query is valid PromQL (promtool)', async () => {
    const exprs = queries.map((q) =>
      q.expr.replaceAll('$__rate_interval', '5m').replaceAll('$namespace', '.*'),
    )
    expect(await checkPromQL(exprs)).toContain(`SUCCESS: ${exprs.length} rules found`)
  })

  test('shows hit ratio per level, latency percentiles per operation, sizes, breaker state, loader errors and bus traffic', () => {
    const find = (title: RegExp) => panels.find((p) => title.test(p.title))
    const exprs = (title: RegExp) => (find(title)?.targets ?? []).map((t) => t.expr).join('\n')
    // Each level's own ratio, by position (test/hit-ratio.test.ts evaluates them on exported series).
    for (const level of ['l1', 'l2', 'l3'])
      expect(exprs(/^Hit ratio per level/)).toContain(`level=~"${level}_.+"`)
    const latency = exprs(/^Operation latency percentiles/)
    for (const p of ['0.5', '0.95', '0.99']) {
      expect(latency).toContain(`histogram_quantile(${p}, sum by (le, operation)`)
    }
    expect(exprs(/^Size by level/)).toContain('cache_size_bytes')
    expect(exprs(/^Circuit breaker state/)).toContain('cache_breaker_state')
    expect(exprs(/^Loader runs and errors/)).toContain('cache_loader_errors_total')
    expect(exprs(/^Bus messages/)).toContain('cache_bus_messages_total')
    // The histogram's _count is every operation (L1 hits by weight), not a sample of them.
    expect(exprs(/^Operations per second by operation and outcome$/)).toBe(
      'sum by (operation, outcome) (rate(cache_operations_duration_seconds_count{namespace=~"$namespace"}[$__rate_interval]))',
    )
    expect(panels.filter((p) => /timed/i.test(p.title))).toEqual([])
  })

  test('every exported metric is on the dashboard', () => {
    const shown = new Set(queries.flatMap((q) => metricNames(q.expr)))
    const histograms = new Set([...exported].filter((n) => n.endsWith('_bucket')).map((n) => n.slice(0, -7)))
    for (const name of exported) {
      const base = name.replace(/_(bucket|sum|count)$/, '')
      if (histograms.has(base) && name !== `${base}_bucket`) continue // the buckets stand for the histogram
      expect(shown, name).toContain(name)
    }
  })
})
