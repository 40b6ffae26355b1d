import { createCache } from '@tiercache/core'
import { prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import { collectDefaultMetrics, register } from 'prom-client'

collectDefaultMetrics() // your process metrics, in prom-client's global registry

// One plugin per cache; they share the registry and differ by their namespace label.
const users = createCache({
  namespace: 'users',
  tiers: [memoryStore()],
  plugins: [prometheusMetrics({ registry: register })],
})
const pages = createCache({
  namespace: 'pages',
  tiers: [memoryStore()],
  plugins: [prometheusMetrics({ registry: register })],
})

await users.get('1')
await pages.get('/home')
const text = await register.metrics()
console.log(text.match(/^cache_misses_total\{.*$/gm)) // one line per namespace
console.log(text.includes('process_cpu_user_seconds_total')) // true

await Promise.all([users.close(), pages.close()])
