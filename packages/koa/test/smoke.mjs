// Runs in a fresh folder where only @tiercache/koa, its @tiercache peers and koa are installed.
import { once } from 'node:events'
import { createCache } from '@tiercache/core'
import { purgeUrl } from '@tiercache/http'
import { httpCache } from '@tiercache/koa'
import Koa from 'koa'

/** A tiny synchronous in-memory tier (the real one is @tiercache/store-memory). */
function mapStore() {
  const map = new Map()
  return {
    name: 'map',
    kind: 'memory',
    capabilities: {},
    get: (k) => {
      const e = map.get(k)
      return e && e.staleUntil > Date.now() ? e : undefined
    },
    set: (k, e) => void map.set(k, e),
    delete: (k) => map.delete(k),
    clear: () => map.clear(),
  }
}

const cache = createCache({ namespace: 'smoke', tiers: [mapStore()] })
const app = new Koa()
let calls = 0
const cached = httpCache(cache, { ttl: '1m' })
app.use((ctx, next) => (ctx.path === '/x' ? cached(ctx, next) : next()))
app.use((ctx) => {
  calls++
  ctx.body = { calls }
})
const server = app.listen(0, '127.0.0.1')
await once(server, 'listening')
const url = `http://127.0.0.1:${server.address().port}/x`
const seen = []
for (let i = 0; i < 2; i++) {
  const res = await fetch(url)
  seen.push(`${res.headers.get('x-cache')} ${await res.text()}`)
}
await purgeUrl(cache, url)
const after = await fetch(url)
seen.push(`${after.headers.get('x-cache')} ${await after.text()}`)
server.close()
await cache.close()
if (seen.join('|') !== 'MISS {"calls":1}|HIT {"calls":1}|MISS {"calls":2}')
  throw new Error(`unexpected: ${seen.join('|')}`)
console.log('smoke ok')
