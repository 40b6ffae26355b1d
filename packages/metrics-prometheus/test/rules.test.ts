import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { load } from 'js-yaml'
import { beforeAll, describe, expect, test } from 'vitest'
import { exportedMetricNames, metricNames, promtool } from './promql.js'

const dir = join(import.meta.dirname, '..', 'alerts')
const rulesFile = join(dir, 'tiercache.rules.yml')
const testsFile = join(dir, 'tiercache.rules.test.yml')

interface Rule {
  alert?: string
  record?: string
  expr: string
  for?: string
  labels?: Record<string, string>
  annotations?: Record<string, string>
}
interface AlertTest {
  alertname: string
  exp_alerts?: unknown[]
}
const rules = (load(readFileSync(rulesFile, 'utf8')) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
)
const cases = (
  load(readFileSync(testsFile, 'utf8')) as { tests: { alert_rule_test?: AlertTest[] }[] }
).tests.flatMap((t) => t.alert_rule_test ?? [])
const alerts = rules.filter((r) => r.alert !== undefined)

let exported: Set<string>
beforeAll(async () => {
  exported = await exportedMetricNames()
})

describe('alerts/tiercache.rules.yml', () => {
  test('passes promtool check rules', async () => {
    expect(await promtool('check', 'rules', rulesFile)).toContain(`SUCCESS: ${rules.length} rules found`)
  })

  test('passes promtool test rules (tiercache.rules.test.yml)', async () => {
    expect(await promtool('test', 'rules', testsFile)).toContain('SUCCESS')
  })

  test('has the five alerts, each with a severity and a summary', () => {
    expect(alerts.map((a) => a.alert).sort()).toEqual([
      'CacheHitRatioLow',
      'CircuitBreakerOpen',
      'L1MemoryNearLimit',
      'LoaderErrorsHigh',
      'RedisConnectionDown',
    ])
    for (const a of alerts) {
      expect(['critical', 'warning', 'info'], a.alert).toContain(a.labels?.severity)
      expect(a.annotations?.summary, a.alert).toMatch(/\S/)
      expect(a.annotations?.description, a.alert).toMatch(/\S/)
    }
  })

  test('every alert has a unit test that fires it and one that does not', () => {
    for (const a of alerts) {
      const mine = cases.filter((c) => c.alertname === a.alert)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length > 0),
        `${a.alert} fires`,
      ).toBe(true)
      expect(
        mine.some((c) => (c.exp_alerts ?? []).length === 0),
        `${a.alert} stays quiet`,
      ).toBe(true)
    }
  })

  test('every expression names only metrics the plugin exports', () => {
    for (const rule of rules) {
      const names = metricNames(rule.expr)
      expect(names.length, rule.alert).toBeGreaterThan(0)
      for (const name of names) expect(exported, `${rule.alert}: ${name}`).toContain(name)
    }
  })

  test('RedisConnectionDown watches cache_level_up, not a size', () => {
    const rule = alerts.find((a) => a.alert === 'RedisConnectionDown')!
    expect(metricNames(rule.expr)).toEqual(['cache_level_up'])
  })
})

describe('metricNames', () => {
  test('finds metric names, not functions, keywords, labels, variables or numbers', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (le, operation) (rate(cache_operations_duration_seconds_bucket{namespace=~"$namespace",level=~"l1_.+"}[$__rate_interval]))) > 1e-3 and on (namespace) cache_level_up offset 5m == bool 0',
      ).sort(),
    ).toEqual(['cache_level_up', 'cache_operations_duration_seconds_bucket'])
  })
})
