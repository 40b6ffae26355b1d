// Runs in a fresh folder where only @tiercache/http and @tiercache/core are installed.
import { once } from 'node:events'
import { createServer } from 'node:http'
import { createCache } from '@tiercache/core'
import { captureNodeResponse, createHttpCache, purgeUrl, writeNodeResponse } from '@tiercache/http'

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
const http = createHttpCache(cache, { ttl: '1m' })
let calls = 0
const server = createServer(async (req, res) => {
  const plan = await http.begin({
    method: req.method,
    protocol: 'http',
    host: 'smoke.test',
    url: req.url,
    headers: req.headers,
  })
  if (plan.kind === 'serve') return writeNodeResponse(res, plan.reply)
  if (plan.kind === 'miss') captureNodeResponse(res, plan.capture)
  calls++
  res.setHeader('content-type', 'text/plain')
  res.end(`hello ${calls}`)
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const url = `http://127.0.0.1:${server.address().port}/x`
const texts = []
for (let i = 0; i < 2; i++) {
  const res = await fetch(url)
  texts.push(`${res.headers.get('x-cache')} ${await res.text()}`)
}
await purgeUrl(cache, 'http://smoke.test/x')
const after = await fetch(url)
texts.push(`${after.headers.get('x-cache')} ${await after.text()}`)
server.close()
await cache.close()
if (texts.join('|') !== 'MISS hello 1|HIT hello 1|MISS hello 2')
  throw new Error(`unexpected: ${texts.join('|')}`)
console.log('smoke ok')
