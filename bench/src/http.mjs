// Issue: HTTP response caching. Each server runs in its own process (this file with `--serve <mode>`);
// autocannon drives them from this process. Contenders are measured side by side, interleaved
// over rounds (A B C, A B C, …), each result the median over rounds:
//   express constant route vs express + @tiercache/express (hit) vs apicache;
//   koa constant route vs koa + @tiercache/koa (hit) vs koa-cash;
//   a route doing 20 ms of CPU work, cached vs uncached;
//   revalidation: every request finds a stored `no-cache` response with an ETag, the handler
//   answers the cache's If-None-Match with 304, the cache freshens the entry and sends the stored
//   body; against a plain miss (every request a new URL: the handler sends the body, the cache
//   stores it), Express and Koa.
// Targets: cached ≥ 0.9x the constant route's req/s with p99 ≤ 1.2x; ≥ apicache / koa-cash;
// the 20 ms route ≥ 20x cached vs uncached; a 304 revalidation costs ≤ 1.2x a plain miss.
//
// Imports the built packages by path (run `pnpm build` first): bench/package.json does not list
// @tiercache/express and @tiercache/koa yet.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import { dirname } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import Router from '@koa/router'
import { createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import apicache from 'apicache'
import autocannon from 'autocannon'
import express from 'express'
import Koa from 'koa'
import koaCash from 'koa-cash'
import { LRUCache } from 'lru-cache'
import { httpCache as expressCache } from '../../packages/express/dist/index.js'
import { httpCache as koaCache } from '../../packages/koa/dist/index.js'
import { machineLine, save, target } from './lib.mjs'

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

const TAG = '"v1"'

/**
 * Express, revalidation: the stored response says `no-cache` with an ETag, so every request is
 * validated; the handler answers the cache's If-None-Match with 304. Plain miss: the route
 * answers `max-age=60` without a validator and every request asks a new URL (the harness adds a
 * counter to the query), so each one runs the handler and stores its response.
 */
function expressValidated(withTag) {
  const app = express()
  app.set('etag', false)
  const options = withTag ? {} : { query: { maxVariants: Number.POSITIVE_INFINITY } }
  app.get('/x', expressCache(tiercache(), options), (req, res) => {
    if (withTag) {
      res.set('Cache-Control', 'no-cache')
      res.set('ETag', TAG)
      if (req.headers['if-none-match'] === TAG) {
        res.status(304).end()
        return
      }
    } else res.set('Cache-Control', 'max-age=60')
    expressHandler(req, res)
  })
  return app
}

/** Koa: the same two routes. */
function koaValidated(withTag) {
  const options = withTag ? {} : { query: { maxVariants: Number.POSITIVE_INFINITY } }
  return koaApp(koaCache(tiercache(), options), (ctx, next) => {
    if (withTag) {
      ctx.set('Cache-Control', 'no-cache')
      ctx.set('ETag', TAG)
      if (ctx.get('If-None-Match') === TAG) {
        ctx.status = 304
        return undefined
      }
    } else ctx.set('Cache-Control', 'max-age=60')
    return next()
  })
}

const modes = {
  'express-miss': () => expressValidated(false),
  'express-revalidate': () => expressValidated(true),
  'koa-miss': () => koaValidated(false),
  'koa-revalidate': () => koaValidated(true),
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

/** Server mode: `node http.mjs --serve <mode>` listens on a free port and prints it. */
function serve(mode) {
  const make = modes[mode]
  if (!make) throw new Error(`unknown mode ${mode}`)
  const server = make().listen(0, '127.0.0.1', () => {
    console.log(`port ${server.address().port}`)
  })
  process.on('SIGTERM', () => server.close(() => process.exit(0)))
  process.on('disconnect', () => process.exit(0))
}

const _here = dirname(fileURLToPath(import.meta.url))
const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 8)
const DURATION = Number(process.env.BENCH_HTTP_SECONDS ?? 2)
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 32)

async function startServer(mode) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', mode], {
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  let out = ''
  for await (const chunk of child.stdout) {
    out += chunk
    const m = /port (\d+)/.exec(out)
    if (m) return { mode, child, url: `http://127.0.0.1:${m[1]}/x` }
  }
  throw new Error(`${mode} did not start`)
}

let unique = 0

function run(url, duration, mode = '') {
  // plain-miss modes: every request a new query string, so every request misses and stores
  const requests = mode.endsWith('-miss')
    ? [
        {
          setupRequest: (req) => {
            req.path = `/x?n=${unique++}`
            return req
          },
        },
      ]
    : undefined
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration, pipelining: 1, requests }, (error, result) =>
      error ? reject(error) : resolve(result),
    )
  })
}

/** CPU time (user + system) a process has used, in ms, from /proc (Linux); undefined elsewhere. */
function cpuMs(pid) {
  const file = `/proc/${pid}/stat`
  if (!existsSync(file)) return undefined
  const fields = readFileSync(file, 'utf8').split(') ')[1].split(' ')
  return (Number(fields[11]) + Number(fields[12])) * 10
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

async function measureGroup(title, modes) {
  const servers = []
  for (const mode of modes) servers.push(await startServer(mode))
  try {
    for (const s of servers) {
      const first = await fetch(s.url)
      await first.text()
      await run(s.url, 1, s.mode) // warm-up: JIT and cache fill
    }
    const samples = new Map(modes.map((m) => [m, { rps: [], p99: [], cpu: [], errors: 0 }]))
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 === 0 ? servers : [...servers].reverse()
      for (const s of order) {
        const before = cpuMs(s.child.pid)
        const res = await run(s.url, DURATION, s.mode)
        const after = cpuMs(s.child.pid)
        const sample = samples.get(s.mode)
        sample.rps.push(res.requests.average)
        sample.p99.push(res.latency.p99)
        if (before !== undefined && after !== undefined && res.requests.total > 0) {
          sample.cpu.push(((after - before) * 1000) / res.requests.total)
        }
        sample.errors += res.errors + res.non2xx
      }
    }
    const out = {}
    for (const [mode, s] of samples) {
      out[mode] = {
        rps: median(s.rps),
        p99: median(s.p99),
        cpuPerRequest: s.cpu.length ? Number(median(s.cpu).toFixed(1)) : undefined,
        errors: s.errors,
      }
    }
    console.log(`\n## ${title}\n${machineLine()}\n`)
    console.log(`${CONNECTIONS} connections, ${ROUNDS} rounds × ${DURATION} s, median of rounds\n`)
    console.log('| contender | req/s | p99 (ms) | server CPU per request (µs) | errors |')
    console.log('| --- | ---: | ---: | ---: | ---: |')
    for (const [mode, r] of Object.entries(out)) {
      console.log(
        `| ${mode} | ${Math.round(r.rps).toLocaleString('en-US')} | ${r.p99} | ${r.cpuPerRequest ?? 'n/a'} | ${r.errors} |`,
      )
    }
    return out
  } finally {
    for (const s of servers) s.child.kill('SIGTERM')
    await Promise.all(servers.map((s) => (s.child.exitCode === null ? once(s.child, 'exit') : undefined)))
  }
}

async function bench() {
  const only = (process.env.BENCH_HTTP_ONLY ?? 'express,koa,slow,revalidate').split(',')
  const checks = []
  const results = {}
  const p99Check = (label, value, base) => {
    const ratio = value / base
    const ok = ratio <= 1.2
    console.log(`${ok ? 'MET ' : 'MISS'} ${label}: ${ratio.toFixed(2)}x (target ≤ 1.2x)`)
    return { label, value: Number(ratio.toFixed(3)), target: 1.2, met: ok }
  }

  if (only.includes('express')) {
    const ex = await measureGroup('Express: constant route vs cached hit vs apicache', [
      'express-constant',
      'express-tiercache',
      'express-apicache',
    ])
    checks.push(
      target(
        'express cached req/s vs constant route',
        ex['express-tiercache'].rps / ex['express-constant'].rps,
        0.9,
      ),
    )
    checks.push(
      p99Check(
        'express cached p99 vs constant route',
        Math.max(ex['express-tiercache'].p99, 1),
        Math.max(ex['express-constant'].p99, 1),
      ),
    )
    checks.push(
      target('express cached req/s vs apicache', ex['express-tiercache'].rps / ex['express-apicache'].rps, 1),
    )
    results.express = ex
  }

  if (only.includes('koa')) {
    const koa = await measureGroup('Koa: constant route vs cached hit vs koa-cash', [
      'koa-constant',
      'koa-tiercache',
      'koa-cash',
    ])
    checks.push(
      target('koa cached req/s vs constant route', koa['koa-tiercache'].rps / koa['koa-constant'].rps, 0.9),
    )
    checks.push(
      p99Check(
        'koa cached p99 vs constant route',
        Math.max(koa['koa-tiercache'].p99, 1),
        Math.max(koa['koa-constant'].p99, 1),
      ),
    )
    checks.push(target('koa cached req/s vs koa-cash', koa['koa-tiercache'].rps / koa['koa-cash'].rps, 1))
    results.koa = koa
  }

  if (only.includes('slow')) {
    const slow = await measureGroup('A route doing 20 ms of CPU work: cached vs uncached (Express)', [
      'slow-uncached',
      'slow-tiercache',
    ])
    checks.push(
      target('20 ms route cached vs uncached', slow['slow-tiercache'].rps / slow['slow-uncached'].rps, 20),
    )
    results.slow = slow
  }

  if (only.includes('revalidate')) {
    const rv = await measureGroup('Revalidation by 304 vs a plain miss (Express and Koa)', [
      'express-miss',
      'express-revalidate',
      'koa-miss',
      'koa-revalidate',
    ])
    for (const fw of ['express', 'koa']) {
      const miss = rv[`${fw}-miss`]
      const reval = rv[`${fw}-revalidate`]
      checks.push(
        target(`${fw} 304 revalidation req/s vs plain miss (cost ≤ 1.2x)`, reval.rps / miss.rps, 1 / 1.2),
      )
      if (miss.cpuPerRequest && reval.cpuPerRequest) {
        console.log(
          `     ${fw} server CPU per request: revalidation ${reval.cpuPerRequest} µs, miss ${miss.cpuPerRequest} µs (${(reval.cpuPerRequest / miss.cpuPerRequest).toFixed(2)}x)`,
        )
      }
    }
    results.revalidate = rv
  }

  if (only.length === 4) save('http', { ...results, checks })
}

if (process.argv[2] === '--serve') serve(process.argv[3])
else await bench()
