// Runs in a fresh folder where only @tiercache/metrics-prometheus, @tiercache/core and
// prom-client are installed.
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createCache } from '@tiercache/core'
import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'

/** A minimal synchronous memory tier (store-memory is not installed here). */
function mapStore() {
  const map = new Map()
  return {
    name: 'memory',
    kind: 'memory',
    capabilities: { stats: true },
    get: (key) => map.get(key),
    set: (key, entry) => void map.set(key, entry),
    delete: (key) => map.delete(key),
    clear: () => map.clear(),
    stats: () => ({ entries: map.size }),
  }
}

const metrics = prometheusMetrics()
const cache = createCache({ namespace: 'smoke', tiers: [mapStore()], plugins: [metrics] })
await cache.set('a', 1)
await cache.get('a')
await cache.get('b')
await cache.getOrSet('c', () => 3)

const server = createServer(metricsHandler(metrics.registry)).listen(0, '127.0.0.1')
await once(server, 'listening')
const res = await fetch(`http://127.0.0.1:${server.address().port}/metrics`)
const text = await res.text()
server.close()
await cache.close()

const expect = (line) => {
  if (!text.split('\n').includes(line)) throw new Error(`missing "${line}" in:\n${text}`)
}
expect('cache_hits_total{namespace="smoke",level="l1_memory"} 1')
expect('cache_misses_total{namespace="smoke",level="l1_memory"} 2')
expect('cache_entries{namespace="smoke",level="l1_memory"} 2')
expect('cache_loads_total{namespace="smoke"} 1')
// Timed by the plugin's operation observer: the miss and the write exactly (the one L1 hit is
// below l1SampleEvery, so it is not in the histogram yet).
expect(
  'cache_operations_duration_seconds_count{namespace="smoke",operation="get",level="l1_memory",outcome="miss"} 1',
)
expect(
  'cache_operations_duration_seconds_count{namespace="smoke",operation="set",level="l1_memory",outcome="ok"} 1',
)
if (res.status !== 200) throw new Error(`status ${res.status}`)

for (const file of ['alerts/tiercache.rules.yml', 'dashboards/tiercache.json']) {
  const path = fileURLToPath(import.meta.resolve(`@tiercache/metrics-prometheus/${file}`))
  if (!existsSync(path)) throw new Error(`${file} is not in the package`)
}
const dashboard = JSON.parse(
  readFileSync(
    fileURLToPath(import.meta.resolve('@tiercache/metrics-prometheus/dashboards/tiercache.json')),
    'utf8',
  ),
)
if (dashboard.uid !== 'tiercache') throw new Error('dashboard did not parse')
console.log('smoke ok')
