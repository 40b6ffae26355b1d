import { createCache } from '@tiercache/core'
import { metricsHandler, prometheusMetrics } from '@tiercache/metrics-prometheus'
import { memoryStore } from '@tiercache/store-memory'
import Koa from 'koa'

const metrics = prometheusMetrics()
export const cache = createCache({ namespace: 'app', tiers: [memoryStore()], plugins: [metrics] })

const serveMetrics = metricsHandler(metrics.registry)
export const app = new Koa()
app.use(async (ctx, next) => {
  if (ctx.path !== '/metrics') return next()
  ctx.respond = false // metricsHandler writes the Node response itself
  await serveMetrics(ctx.req, ctx.res)
})
// app.listen(3000)
