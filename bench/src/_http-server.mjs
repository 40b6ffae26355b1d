// One benchmark HTTP server, run in its own process by http.mjs: `node _http-server.mjs <mode>`.
// Prints `port <n>` once listening. Every mode answers GET /x with the same 1 KiB JSON body.
import { performance } from 'node:perf_hooks'
import Router from '@koa/router'
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import apicache from 'apicache'
import express from 'express'
import Koa from 'koa'
import koaCash from 'koa-cash'
import { LRUCache } from 'lru-cache'
import { httpCache as expressCache } from '../../packages/express/dist/index.js'
import { httpCache as koaCache } from '../../packages/koa/dist/index.js'

const mode = process.argv[2]
const BODY = JSON.stringify({
  id: 12345,
  name: 'Ada Lovelace',
  email: 'ada@example.com',
  roles: ['admin', 'editor', 'viewer'],
  address: { street: '12 Analytical Engine Way', city: 'London', zip: 'NW1 6XE', country: 'UK' },
  bio: 'Mathematician and writer, known for her work on the proposed mechanical general-purpose computer, the Analytical Engine. '.repeat(
    6,
  ),
}).slice(0, 1024)

const tiercache = () => createCache({ namespace: 'bench', tiers: [memoryStore({ maxBytes: 64 * 2 ** 20 })] })

/** 20 ms of CPU work, as a handler doing real work would spend. */
function work() {
  const until = performance.now() + 20
  let x = 0
  while (performance.now() < until) x += Math.sqrt(x + 1)
  return x
}

const expressHandler = (_req, res) => {
  res.type('application/json')
  res.send(BODY)
}
const koaHandler = (ctx) => {
  ctx.type = 'application/json'
  ctx.body = BODY
}

function expressApp(...middleware) {
  const app = express()
  app.get('/x', ...middleware, expressHandler)
  return app
}

function koaApp(...middleware) {
  const app = new Koa()
  const router = new Router()
  router.get('/x', ...middleware, koaHandler)
  app.use(router.routes())
  return app
}

const modes = {
  'express-constant': () => expressApp(),
  'express-tiercache': () => expressApp(expressCache(tiercache(), { ttl: '1h' })),
  'express-apicache': () => expressApp(apicache.middleware('1 hour')),
  'koa-constant': () => koaApp(),
  'koa-tiercache': () => koaApp(koaCache(tiercache(), { ttl: '1h' })),
  'koa-cash': () => {
    const lru = new LRUCache({ max: 1000 })
    const app = new Koa()
    app.use(koaCash({ get: (k) => lru.get(k), set: (k, v) => lru.set(k, v), maxAge: 3_600_000 }))
    const router = new Router()
    router.get('/x', async (ctx) => {
      if (await ctx.cashed()) return
      koaHandler(ctx)
    })
    app.use(router.routes())
    return app
  },
  'slow-uncached': () => {
    const app = express()
    app.get('/x', (req, res) => {
      work()
      expressHandler(req, res)
    })
    return app
  },
  'slow-tiercache': () => {
    const app = express()
    app.get('/x', expressCache(tiercache(), { ttl: '1h' }), (req, res) => {
      work()
      expressHandler(req, res)
    })
    return app
  },
}

const make = modes[mode]
if (!make) throw new Error(`unknown mode ${mode}`)
const server = make().listen(0, '127.0.0.1', () => {
  console.log(`port ${server.address().port}`)
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
process.on('disconnect', () => process.exit(0))
