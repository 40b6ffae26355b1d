import Router from '@koa/router'
import { createCache } from '@tiercache/core'
import { httpCache } from '@tiercache/koa'
import { memoryStore } from '@tiercache/store-memory'
import Koa from 'koa'

export const cache = createCache({ namespace: 'shop', tiers: [memoryStore()] })
export const app = new Koa()
const router = new Router()
const products = new Map([['42', { id: '42', name: 'Teapot', price: 12 }]])

router.get('/products/:id', httpCache(cache, { ttl: '5m', staleIfError: '1h' }), async (ctx) => {
  ctx.set('Cache-Tag', `product:${ctx.params.id}`)
  ctx.body = products.get(ctx.params.id ?? '')
})

// a whole router, every method: GET/HEAD cached, successful unsafe methods invalidate their URL
const api = new Router({ prefix: '/api' })
api.use(httpCache(cache, { ttl: '30s' }))
api.get('/stock', (ctx) => {
  ctx.body = { teapots: 3 }
})

app.use(router.routes()).use(api.routes())
