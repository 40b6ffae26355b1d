import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createCache } from '@tiercache/core'
import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'

const metrics = prometheusMetrics() // its own prom-client Registry: metrics.registry
const cache = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [metrics] })

// Serve /metrics (port 0 picks a free port; use 9464 or your own in production).
const server = createServer(metricsHandler(metrics.registry)).listen(0)
await once(server, 'listening')
const { port } = server.address() as AddressInfo

await cache.set('user:1', { name: 'Ada' })
await cache.get('user:1') // an L1 hit
await cache.get('user:2') // a miss

const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
console.log(text.match(/^cache_hits_total\{.*$/m)?.[0]) // cache_hits_total{namespace="app",level="l1_memory"} 1
console.log(text.match(/^cache_misses_total\{.*$/m)?.[0]) // cache_misses_total{namespace="app",level="l1_memory"} 1

server.close()
await cache.close() // also removes the metrics from the registry
