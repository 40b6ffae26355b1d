import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { withBreaker } from '@tiercache/breaker'
import { createCache } from '@tiercache/core'
import { prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { tempDir } from '@tiercache/test-kit'
import { plainRemote } from './helpers.js'

const exec = promisify(execFile)

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'bool',
  'offset',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'inf',
  'nan',
])

/**
 * The metric names a PromQL expression selects (Grafana variables allowed): identifiers that are
 * not functions, keywords, label names or numbers.
 */
export function metricNames(expr: string): string[] {
  const s = expr
    .replace(/\$\{?\w+(?::\w+)?\}?/g, ' ') // $namespace, ${__rate_interval}
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, ' ') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // range and subquery selectors
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // label lists
    .replace(/\boffset\s+\S+/g, ' ')
    .replace(/(?<![a-zA-Z_:])\d[\d.]*(?:[eE][+-]?\d+)?/g, ' ') // numbers
  const names = new Set<string>()
  for (const m of s.matchAll(/([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const name = m[1] as string
    if (m[2] !== undefined || KEYWORDS.has(name.toLowerCase())) continue
    names.add(name)
  }
  return [...names]
}

/**
 * Every metric name the plugin can export, histogram series included: from a registry of a cache
 * with every feature (two levels, a breaker, a bus with stats, warming, operation timing).
 */
export async function exportedMetricNames(): Promise<Set<string>> {
  const breaker = withBreaker(plainRemote())
  const bus = {
    subscribe() {},
    publish() {},
    stats: () => ({ sent: 0, received: 0, failed: 0, queued: 0, connected: true }),
  }
  const metrics = prometheusMetrics({ breakers: { l2_remote: breaker }, bus })
  const cache = createCache({
    namespace: 'names',
    tiers: [memoryStore(), breaker],
    bus,
    warming: { snapshotInterval: 0 },
    plugins: [metrics],
  })
  try {
    const names = new Set<string>()
    for (const metric of await (metrics.registry as import('prom-client').Registry).getMetricsAsJSON()) {
      // prom-client declares `type` as a numeric enum; at run time it is the type's name.
      if (String(metric.type) === 'histogram') {
        for (const suffix of ['_bucket', '_sum', '_count']) names.add(metric.name + suffix)
      } else names.add(metric.name)
    }
    return names
  } finally {
    await cache.close()
  }
}

/** Runs promtool; rejects with its output when it fails or is missing. */
export async function promtool(...args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await exec('promtool', args, { timeout: 60_000 })
    return `${stdout}${stderr}`
  } catch (error) {
    const e = error as { code?: string | number; stdout?: string; stderr?: string; message: string }
    if (e.code === 'ENOENT') {
      throw new Error('promtool is not installed: apt-get install -y prometheus (.ci/run installs it)')
    }
    throw new Error(`promtool ${args.join(' ')} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
  }
}

/** Checks PromQL syntax with promtool, as recording rules in a temporary rules file. */
export async function checkPromQL(exprs: readonly string[]): Promise<string> {
  const { dir, remove: removeDir } = tempDir('tiercache-promql')
  try {
    const rules = exprs
      .map((expr, i) => `      - record: check:expr_${i}\n        expr: ${JSON.stringify(expr)}\n`)
      .join('')
    const file = join(dir, 'exprs.yml')
    writeFileSync(file, `groups:\n  - name: exprs\n    rules:\n${rules}`)
    return await promtool('check', 'rules', file)
  } finally {
    removeDir()
  }
}
