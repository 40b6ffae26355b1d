import { createServer } from 'node:http'
import { createCache } from '@tiercache/core'
import { captureNodeResponse, createHttpCache, purgeUrl, writeNodeResponse } from '@tiercache/http'
import { memoryStore } from '@tiercache/store-memory'

export const cache = createCache({ namespace: 'site', tiers: [memoryStore()] })
const http = createHttpCache(cache, { ttl: '5m', cacheStatus: 'site' })

function handler(res: import('node:http').ServerResponse): void {
  res.setHeader('content-type', 'text/plain')
  res.setHeader('cache-tag', 'home')
  res.end(`rendered at ${Date.now()}`)
}

export const server = createServer(async (req, res) => {
  const plan = await http.begin({
    method: req.method ?? 'GET',
    protocol: 'http',
    host: (req.headers.host ?? '').replace(/:\d+$/, ''),
    url: req.url ?? '/',
    headers: req.headers,
  })
  if (plan.kind === 'serve') {
    writeNodeResponse(res, plan.reply)
    plan.revalidate?.(req, (r, s) => server.emit('request', r, s))
    return
  }
  if (plan.kind === 'miss') captureNodeResponse(res, plan.capture)
  else {
    const settle = plan.settle
    if (settle) res.once('finish', () => settle(res.statusCode, res.getHeaders()))
  }
  handler(res)
})

/** Drops the home page everywhere: by URL, or by the tag its handler set. */
export async function homeChanged(origin: string): Promise<void> {
  await purgeUrl(cache, `${origin}/`)
  await cache.invalidateTags(['home'])
}
