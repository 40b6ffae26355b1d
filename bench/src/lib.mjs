// Shared benchmark harness: contenders run side by side in one process, interleaved across rounds
// (A B C, A B C, …) so machine noise hits all of them alike; each result is the median over rounds.
import { mkdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const resultsDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results')

/** One line describing the machine, printed with every result. */
export function machineLine() {
  const cpus = os.cpus()
  return `Node ${process.version}, ${cpus[0]?.model?.trim() ?? 'unknown CPU'} × ${cpus.length}, ${os.platform()} ${os.arch()}`
}

let sink = 0
/** Keeps results alive so the optimizer cannot drop the work. */
export function consume(v) {
  if (v !== undefined && v !== null) sink ^= 1
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Measures contenders. Each is { name, fn, async?, batch? }: `fn` is one operation; async ones are
 * awaited one after another. Returns { name: nsPerOp } (median of rounds).
 * @param {{ name: string, fn: () => unknown, async?: boolean }[]} contenders
 * @param {{ rounds?: number, roundMs?: number, warmupMs?: number }} opts
 */
export async function measure(contenders, opts = {}) {
  const rounds = opts.rounds ?? Number(process.env.BENCH_ROUNDS ?? 15)
  const roundMs = opts.roundMs ?? Number(process.env.BENCH_ROUND_MS ?? 150)
  const warmupMs = opts.warmupMs ?? 300
  const samples = new Map(contenders.map((c) => [c.name, []]))

  const timeFor = async (c, ms) => {
    let n = 0
    let batch = 64
    const start = process.hrtime.bigint()
    const deadline = start + BigInt(Math.round(ms * 1e6))
    let now = start
    while (now < deadline) {
      if (c.async) {
        for (let i = 0; i < batch; i++) consume(await c.fn())
      } else {
        for (let i = 0; i < batch; i++) consume(c.fn())
      }
      n += batch
      if (batch < 65536) batch *= 2
      now = process.hrtime.bigint()
    }
    return Number(now - start) / n
  }

  for (const c of contenders) await timeFor(c, warmupMs)
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? contenders : [...contenders].reverse()
    for (const c of order) samples.get(c.name).push(await timeFor(c, roundMs))
  }
  const out = {}
  for (const c of contenders) out[c.name] = median(samples.get(c.name))
  return out
}

/** Prints a table of ns/op and ratios against a baseline (higher = faster than baseline). */
export function report(title, results, baseline) {
  const base = results[baseline]
  console.log(`\n## ${title}\n${machineLine()}\n`)
  console.log('| contender | ns/op | ops/s | speed vs baseline |')
  console.log('| --- | ---: | ---: | ---: |')
  for (const [name, ns] of Object.entries(results)) {
    console.log(
      `| ${name}${name === baseline ? ' (baseline)' : ''} | ${ns.toFixed(1)} | ${Math.round(1e9 / ns).toLocaleString('en-US')} | ${(base / ns).toFixed(2)}x |`,
    )
  }
}

/** Ratio: how fast `a` is relative to `b` (ops/s of a ÷ ops/s of b). */
export function ratio(results, a, b) {
  return results[b] / results[a]
}

/** Saves a suite's results under bench/results/<name>.json. */
export function save(name, data) {
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(
    join(resultsDir, `${name}.json`),
    `${JSON.stringify({ machine: machineLine(), date: new Date().toISOString(), ...data }, null, 2)}\n`,
  )
}

/** Prints a target check line. */
export function target(label, value, min) {
  const ok = value >= min
  console.log(`${ok ? 'MET ' : 'MISS'} ${label}: ${value.toFixed(2)}x (target ≥ ${min}x)`)
  return { label, value: Number(value.toFixed(3)), target: min, met: ok }
}

export { sink }
