import { once } from 'node:events'
import { createServer } from 'node:http'
import { createDistributedCache, metricsHandler } from 'tiercache'

const cache = createDistributedCache({ fallbackToDb: false, env: false })
const server = createServer(metricsHandler(cache.registry!)) // or app.get('/metrics', …) in Express
await once(server.listen(0, '127.0.0.1'), 'listening')
await cache.getOrSet('k', () => 'v')
const { port } = server.address() as { port: number }
const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
console.log(text.includes('cache_misses_total')) // true
server.close()
await cache.close()
