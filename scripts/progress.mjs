#!/usr/bin/env node
// Runs a command, passing its output through, and prints a progress line whenever it has been
// silent for a while (a native build of better-sqlite3, a TypeScript build with its logs
// folded), naming the step, the time spent and the process at work, so the README's two
// commands never sit silent for more than --every seconds.
//
//   node scripts/progress.mjs --label "installing dependencies" [--every 7] [--until "listening on"] -- cmd args...
//
// --until: once a line of the command's output matches, stop printing progress (a server that
// is up and idle). Exits with the command's exit code; forwards SIGINT and SIGTERM to it.
import { execFileSync, spawn } from 'node:child_process'

const argv = process.argv.slice(2)
const dash = argv.indexOf('--')
if (dash < 0 || dash === argv.length - 1) {
  console.error('usage: progress.mjs --label <what> [--every <s>] [--until <text>] -- <command> [args...]')
  process.exit(2)
}
const options = { label: 'working', every: 7, until: undefined }
for (let i = 0; i < dash; i += 2) {
  const name = argv[i]?.replace(/^--/, '')
  const value = argv[i + 1]
  if (!(name in options) || value === undefined) {
    console.error(`progress.mjs: unknown option ${argv[i]}`)
    process.exit(2)
  }
  options[name] = name === 'every' ? Number(value) : value
}
if (!(options.every > 0)) {
  console.error('progress.mjs: --every must be a positive number of seconds')
  process.exit(2)
}
const [command, ...args] = argv.slice(dash + 1)

const started = Date.now()
let lastOutput = Date.now()
let quiet = false

function elapsed() {
  const s = Math.round((Date.now() - started) / 1000)
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
}

/** The most recently started process below `root` (what is actually working), if `ps` can tell. */
function busiest(root) {
  try {
    const out = execFileSync('ps', ['-e', '-o', 'pid=,ppid=,etimes=,args='], { encoding: 'utf8' })
    const procs = out
      .split('\n')
      .map((line) => /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(.*)$/.exec(line))
      .filter(Boolean)
      .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), age: Number(m[3]), args: m[4] }))
    const below = new Set([root])
    let grew = true
    while (grew) {
      grew = false
      for (const p of procs) {
        if (!below.has(p.pid) && below.has(p.ppid)) {
          below.add(p.pid)
          grew = true
        }
      }
    }
    const candidates = procs.filter((p) => p.pid !== root && below.has(p.pid) && !/^ps /.test(p.args))
    if (candidates.length === 0) return undefined
    candidates.sort((a, b) => a.age - b.age || b.pid - a.pid)
    const args = candidates[0].args.replace(/\s+/g, ' ')
    const source = /\S+\.(c|cc|cpp|ts)\b/.exec(args)?.[0]
    const program = args.split(' ')[0].split('/').pop()
    return source ? `${program} ${source.split('/').pop()}` : args.slice(0, 100)
  } catch {
    return undefined
  }
}

function pass(stream, target) {
  let pending = ''
  stream.on('data', (chunk) => {
    target.write(chunk)
    lastOutput = Date.now()
    if (options.until !== undefined && !quiet) {
      pending = (pending + chunk.toString('utf8')).slice(-4096)
      if (pending.includes(options.until)) quiet = true
    }
  })
}

console.log(`==> ${options.label}: ${[command, ...args].join(' ')}`)
const child = spawn(command, args, { stdio: ['inherit', 'pipe', 'pipe'], env: process.env })
pass(child.stdout, process.stdout)
pass(child.stderr, process.stderr)

const timer = setInterval(() => {
  if (quiet || Date.now() - lastOutput < options.every * 1000) return
  const now = busiest(child.pid)
  console.log(`... ${options.label}: ${elapsed()}${now ? ` (now: ${now})` : ''}`)
  lastOutput = Date.now()
}, 1000)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal))
}
child.on('error', (error) => {
  clearInterval(timer)
  console.error(`progress.mjs: cannot run ${command}: ${error.message}`)
  process.exit(127)
})
child.on('close', (code, signal) => {
  // Nothing printed after the command's own last line: `make test` ends with "N passed, N failed".
  clearInterval(timer)
  process.exit(code ?? (signal ? 1 : 0))
})
