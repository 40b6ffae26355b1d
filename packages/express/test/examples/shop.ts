import { createCache } from '@tiercache/core'
import { httpCache } from '@tiercache/express'
import { purgeUrl } from '@tiercache/http'
import { memoryStore } from '@tiercache/store-memory'
import express from 'express'

export const cache = createCache({ namespace: 'shop', tiers: [memoryStore()] })
export const app = express()
const products = new Map([['42', { id: '42', name: 'Teapot', price: 12 }]])

// per route
app.get('/products/:id', httpCache(cache, { ttl: '5m', staleWhileRevalidate: '1m' }), (req, res) => {
  res.set('Cache-Tag', `product:${req.params.id}`).json(products.get(req.params.id))
})

// per router, every method: GET/HEAD are cached, successful POST/PUT/PATCH/DELETE invalidate their URL
const api = express.Router()
api.use(httpCache(cache, { ttl: '30s' }))
api.get('/stock', (_req, res) => {
  res.json({ teapots: 3 })
})
app.use('/api', api)

/** After a product changes: drop its page, and every response tagged with it. */
export async function productChanged(origin: string, id: string): Promise<void> {
  await purgeUrl(cache, `${origin}/products/${id}`)
  await cache.invalidateTags([`product:${id}`])
}
