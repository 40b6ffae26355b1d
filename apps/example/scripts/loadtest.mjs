#!/usr/bin/env node
// The load test (`pnpm loadtest`): starts the built service twice, first with every cache off
// (CACHE=off), then with the cache on, drives both with the same Zipf-distributed request mix
// through autocannon, and prints the results side by side with the seed's targets and ours.
// Exits 1 when one of our targets is missed (the table is printed anyway).
//
// The workload models a search UI on a keyword database:
// - GET /search?q=: a query drawn from a vocabulary of LOADTEST_QUERIES queries (subjects,
//   modifiers and two-word combinations), Zipf-distributed by popularity;
// - GET /keywords/:id: mostly a click on a result of a search (the query drawn by the same Zipf,
//   the position among its 20 results by Zipf too: top results are opened most), otherwise a
//   direct link to any of the keywords (Zipf over all ids, in a fixed shuffled order);
// - PUT /keywords/:id: an editor updating the difficulty of a keyword picked uniformly.
// Every request draws the same random numbers in both runs, so the two runs issue the same mix.
// Clicks need the results of the query: they are learned from the search responses the load
// generator receives (before a query was answered once, its click is a direct link).
//
// Settings (environment): LOADTEST_DURATION (measured seconds, 30), LOADTEST_WARMUP (seconds of
// the same mix before measuring, 20; then 10 s more at a time while the request rate or the
// hit ratio still climb, up to LOADTEST_MAX_WARMUP, 300), LOADTEST_CONNECTIONS (16), KEYWORDS_COUNT (200000),
// ZIPF_S (exponent, 1.0), LOADTEST_QUERIES (2000), LOADTEST_SEARCH_SHARE (0.35),
// LOADTEST_PUT_SHARE (0.005), LOADTEST_CLICK_SHARE (share of keyword reads that are clicks, 0.85).
// REDIS_URL (or TIERCACHE_REDIS_*) adds Redis to the cache-on run; without it the cache runs
// embedded (memory + SQLite).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const appDir = join(dirname(fileURLToPath(import.meta.url)), '..')
const main = join(appDir, 'dist', 'main.js')
if (!existsSync(main)) {
  console.error('dist/main.js is missing: run `pnpm build` (or `pnpm loadtest`, which builds first)')
  process.exit(1)
}
const { NOUNS, PREFIXES, SUFFIXES } = await import(join(appDir, 'dist', 'words.js'))

const num = (name, fallback) => {
  const v = process.env[name]
  if (v === undefined || v === '') return fallback
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got ${v}`)
  return n
}
const DURATION = num('LOADTEST_DURATION', 30)
const WARMUP = num('LOADTEST_WARMUP', 20)
const MAX_WARMUP = num('LOADTEST_MAX_WARMUP', 300)
const CONNECTIONS = num('LOADTEST_CONNECTIONS', 16)
const KEYWORDS = num('KEYWORDS_COUNT', 200_000)
const ZIPF_S = num('ZIPF_S', 1.0)
const QUERIES = num('LOADTEST_QUERIES', 2000)
const SEARCH_SHARE = num('LOADTEST_SEARCH_SHARE', 0.35)
const PUT_SHARE = num('LOADTEST_PUT_SHARE', 0.005)
const CLICK_SHARE = num('LOADTEST_CLICK_SHARE', 0.85)

const work = join(appDir, '.tiercache', 'loadtest')
mkdirSync(work, { recursive: true })

// ---------------------------------------------------------------------------------------------
// The request mix

/** mulberry32: the same seed gives the same request sequence in both runs. */
function prng(seed) {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** Cumulative Zipf(s) probabilities over n ranks. */
function zipf(n, s) {
  const cdf = new Float64Array(n)
  let total = 0
  for (let i = 0; i < n; i++) {
    total += 1 / (i + 1) ** s
    cdf[i] = total
  }
  for (let i = 0; i < n; i++) cdf[i] /= total
  return cdf
}

function draw(cdf, r) {
  let lo = 0
  let hi = cdf.length - 1
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (cdf[mid] < r) lo = mid + 1
    else hi = mid
  }
  return lo
}

function shuffled(list, random) {
  const out = [...list]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[out[i], out[j]] = [out[j], out[i]]
  }
  return out
}

// Popularity ranks map to ids and queries through fixed shuffles, so popular keywords are spread
// over the table (not the first ids) and popular queries are a mix of broad and narrow ones.
const setupRandom = prng(7)
const ids = shuffled(
  Array.from({ length: KEYWORDS }, (_, i) => i + 1),
  setupRandom,
)
const singles = [...NOUNS, ...PREFIXES, ...SUFFIXES]
const combos = shuffled(
  [
    ...PREFIXES.flatMap((p) => NOUNS.map((n) => `${p} ${n}`)),
    ...NOUNS.flatMap((n) => SUFFIXES.map((x) => `${n} ${x}`)),
  ],
  setupRandom,
)
const queries = shuffled([...singles, ...combos].slice(0, Math.max(1, QUERIES)), setupRandom)
const idCdf = zipf(ids.length, ZIPF_S)
const queryCdf = zipf(queries.length, ZIPF_S)
const positionCdf = zipf(20, ZIPF_S)

/** Result ids of each query (by index), learned from the search responses. */
const learned = new Map()

/** A request source: the same random draws per request in every run; counts what it issued. */
function mix(seed) {
  const random = prng(seed)
  const issued = { keyword: 0, click: 0, search: 0, put: 0 }
  const next = (req, context) => {
    const kind = random()
    const a = random()
    const b = random()
    const c = random()
    context.query = undefined
    req.headers = {}
    req.body = undefined
    req.method = 'GET'
    if (kind < PUT_SHARE) {
      issued.put++
      req.method = 'PUT'
      req.path = `/keywords/${1 + Math.floor(a * KEYWORDS)}`
      req.body = JSON.stringify({ difficulty: 1 + Math.floor(b * 100) })
      req.headers = { 'content-type': 'application/json' }
    } else if (kind < PUT_SHARE + SEARCH_SHARE) {
      issued.search++
      const q = draw(queryCdf, a)
      context.query = q
      req.path = `/search?q=${encodeURIComponent(queries[q])}`
    } else {
      issued.keyword++
      const results = a < CLICK_SHARE ? learned.get(draw(queryCdf, b)) : undefined
      let id = results?.[Math.min(draw(positionCdf, c), results.length - 1)]
      if (id === undefined) id = ids[draw(idCdf, c)]
      else issued.click++
      req.path = `/keywords/${id}`
    }
    return req
  }
  const onResponse = (status, body, context) => {
    if (context.query !== undefined && status === 200 && !learned.has(context.query)) {
      const results = JSON.parse(body).results.map((k) => k.id)
      if (results.length > 0) learned.set(context.query, results)
    }
  }
  return { next, onResponse, issued }
}

// ---------------------------------------------------------------------------------------------
// The service and the driver

async function startService(env) {
  const child = spawn(process.execPath, [main], {
    cwd: appDir,
    env: { ...process.env, PORT: '0', KEYWORDS_COUNT: String(KEYWORDS), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  let out = ''
  child.stdout.setEncoding('utf8')
  const url = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) resolve(m[1])
    })
    exited.then((code) => reject(new Error(`the service exited with ${code} before it was ready:\n${out}`)))
  })
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    },
  }
}

function drive(url, seconds, source) {
  const latencies = []
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url,
        connections: CONNECTIONS,
        duration: seconds,
        pipelining: 1,
        timeout: 30,
        requests: [{ setupRequest: source.next, onResponse: source.onResponse }],
      },
      (error, result) => (error ? reject(error) : resolve({ result, latencies })),
    )
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime))
  })
}

const stats = async (url) => (await fetch(`${url}/stats`)).json()

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

/** Share of GET requests answered without a database query between two /stats readings. */
function hitRatio(before, after, issued) {
  if (after.cacheStats === null) return 0
  const queries =
    after.database.reads - before.database.reads + (after.database.searches - before.database.searches)
  return 1 - queries / (issued.keyword + issued.search)
}

/** Drives `seconds` of the mix with `seed`; latencies and /stats before and after. */
async function phase(url, seconds, seed) {
  const before = await stats(url)
  const source = mix(seed)
  const { result, latencies } = await drive(url, seconds, source)
  const after = await stats(url)
  return {
    result,
    latencies,
    before,
    after,
    issued: source.issued,
    hit: hitRatio(before, after, source.issued),
  }
}

async function measure(label, env) {
  process.stderr.write(`\n${label}: starting the service\n`)
  const service = await startService(env)
  try {
    // Warm-up: WARMUP seconds, then 10 s rounds until both the request rate (less than 10 %
    // up on the previous round) and the hit ratio (less than half a point up) stop climbing, at
    // most MAX_WARMUP seconds in all: the cache-on run is measured in its steady state, not
    // while it fills.
    let warmup = 0
    let warmupRequests = 0
    let previous
    let first
    for (let round = 0; warmup < MAX_WARMUP; round++) {
      const seconds = round === 0 ? WARMUP : Math.min(10, MAX_WARMUP - warmup)
      if (seconds <= 0) break
      const p = await phase(service.url, seconds, 1000 + round)
      const now = { rps: p.latencies.length / seconds, hit: p.hit }
      first ??= now
      warmup += seconds
      warmupRequests += p.latencies.length
      process.stderr.write(
        `${label}: warm-up ${warmup} s: ${Math.round(now.rps)} req/s, hit ratio ${(now.hit * 100).toFixed(1)} %\n`,
      )
      if (round > 0 && now.rps < previous.rps * 1.1 && now.hit < previous.hit + 0.005) break
      previous = now
    }
    process.stderr.write(`${label}: measuring for ${DURATION} s\n`)
    const p = await phase(service.url, DURATION, 2)
    const { after, before } = p
    const latencies = p.latencies.sort((a, b) => a - b)
    const engine =
      after.cacheStats === null
        ? undefined
        : (after.cacheStats.hits - before.cacheStats.hits) /
          (after.cacheStats.hits -
            before.cacheStats.hits +
            after.cacheStats.misses -
            before.cacheStats.misses)
    return {
      label,
      composition: after.cacheStats?.composition ?? 'no cache',
      p50: percentile(latencies, 50),
      p95: percentile(latencies, 95),
      p99: percentile(latencies, 99),
      rps: latencies.length / DURATION,
      responses: latencies.length,
      errors: p.result.errors + p.result.timeouts + p.result.non2xx,
      issued: p.issued,
      hitRatio: p.hit,
      engineHitRatio: engine,
      warmup,
      warmupRequests,
      first,
    }
  } finally {
    await service.stop()
  }
}

// ---------------------------------------------------------------------------------------------
// Run and report

const cacheDb = join(work, 'cache.db')
/** A path relative to the service's working directory, for shorter lines in the report. */
const local = (path) => `./${relative(appDir, path)}`
for (const f of [cacheDb, `${cacheDb}-wal`, `${cacheDb}-shm`]) rmSync(f, { force: true })
const common = { DATABASE_PATH: local(join(work, 'keywords.db')) }
const off = await measure('cache off', { ...common, CACHE: 'off' })
const on = await measure('cache on', {
  ...common,
  CACHE: 'on',
  TIERCACHE_FALLBACK_DB: local(cacheDb),
  TIERCACHE_NAMESPACE: `loadtest-${process.pid}`,
})

const ms = (v) => (v < 10 ? v.toFixed(2) : v < 100 ? v.toFixed(1) : Math.round(v).toLocaleString('en-US'))
const pct = (v) => `${(v * 100).toFixed(1)} %`
const ratio = (v) => `${v < 0.1 ? v.toFixed(3) : v < 10 ? v.toFixed(2) : v.toFixed(1)}x`
const yes = (ok) => (ok ? 'yes' : '**no**')

const p95Ratio = on.p95 / off.p95
const rpsRatio = on.rps / off.rps
const targets = {
  p95: p95Ratio <= 0.1,
  rps: rpsRatio >= 10,
  hit: on.hitRatio >= 0.95,
}
const cpu = cpus()
const machine = `Node ${process.version}, ${cpu[0]?.model.trim() ?? 'unknown CPU'} × ${cpu.length}, ${process.platform} ${process.arch}; load average before the run ${loadavg()
  .map((l) => l.toFixed(2))
  .join(' ')}`

const lines = [
  '',
  `- Machine: ${machine}`,
  `- Workload: ${KEYWORDS.toLocaleString('en-US')} keywords; ${CONNECTIONS} connections; ${DURATION} s measured per run; ` +
    `${pct(SEARCH_SHARE)} GET /search?q= (Zipf s=${ZIPF_S} over ${queries.length.toLocaleString('en-US')} queries), ` +
    `${pct(1 - SEARCH_SHARE - PUT_SHARE)} GET /keywords/:id (${pct(CLICK_SHARE)} clicks on search results, the rest Zipf s=${ZIPF_S} over all ids), ` +
    `${pct(PUT_SHARE)} PUT /keywords/:id (uniform ids)`,
  `- Cache on: ${on.composition}`,
  `- Warm-up (same mix, not measured): cache off ${off.warmup} s (${off.warmupRequests.toLocaleString('en-US')} requests); ` +
    `cache on ${on.warmup} s (${on.warmupRequests.toLocaleString('en-US')} requests), its first ${WARMUP} s from cold at ${Math.round(on.first?.rps ?? 0).toLocaleString('en-US')} req/s with a hit ratio of ${pct(on.first?.hit ?? 0)}`,
  `- Keyword reads that were clicks on learned results: ${pct(off.issued.click / off.issued.keyword)} (cache off), ${pct(on.issued.click / on.issued.keyword)} (cache on)`,
  '',
  '| metric | cache off | cache on | on vs off | seed target | our target | met |',
  '| --- | ---: | ---: | ---: | --- | --- | :-: |',
  `| p50 latency (ms) | ${ms(off.p50)} | ${ms(on.p50)} | ${ratio(on.p50 / off.p50)} | | | |`,
  `| p95 latency (ms) | ${ms(off.p95)} | ${ms(on.p95)} | ${ratio(p95Ratio)} | ≤ 0.3x (70 % cut) | ≤ 0.1x | ${yes(targets.p95)} |`,
  `| p99 latency (ms) | ${ms(off.p99)} | ${ms(on.p99)} | ${ratio(on.p99 / off.p99)} | | | |`,
  `| requests/s | ${Math.round(off.rps).toLocaleString('en-US')} | ${Math.round(on.rps).toLocaleString('en-US')} | ${ratio(rpsRatio)} | ≥ 3x | ≥ 10x | ${yes(targets.rps)} |`,
  `| hit ratio (GETs answered without a query) | – | ${pct(on.hitRatio)} | | > 90 % | ≥ 95 % | ${yes(targets.hit)} |`,
  `| engine hit ratio (cache reads that hit) | – | ${on.engineHitRatio === undefined ? '–' : pct(on.engineHitRatio)} | | | | |`,
  `| responses (errors) | ${off.responses.toLocaleString('en-US')} (${off.errors}) | ${on.responses.toLocaleString('en-US')} (${on.errors}) | | | | |`,
  '',
]
console.log(lines.join('\n'))
const failed = Object.entries(targets).filter(([, ok]) => !ok)
if (off.errors + on.errors > 0) console.log('some requests failed (see the errors row)')
if (failed.length > 0 || off.errors + on.errors > 0) {
  console.log(`targets missed: ${failed.map(([k]) => k).join(', ') || 'none'}`)
  process.exit(1)
}
console.log('every target met')
