import { createCache } from '@tiercache/core'
import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import express from 'express'

const metrics = prometheusMetrics()
export const cache = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [metrics] })

export const app = express()
app.get('/metrics', metricsHandler(metrics.registry))
// app.listen(3000)
