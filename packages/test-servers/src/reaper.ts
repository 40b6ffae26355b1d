import { type ChildProcess, spawn } from 'node:child_process'
import { rmSync } from 'node:fs'

/**
 * A watchdog process that kills every server this process started when this process dies,
 * even by SIGKILL (when a test runner kills a worker). It reads `+pid`, `-pid`, `+dir path`,
 * `-dir path` lines on stdin; when stdin closes (this process is gone) it sends SIGCONT and
 * SIGKILL to every pid still listed and removes every listed directory.
 */
const REAPER_SOURCE = `
const { rmSync } = require('node:fs')
const pids = new Set(); const dirs = new Set(); let rest = ''
process.stdin.setEncoding('utf8')
process.stdin.on('data', (chunk) => {
  rest += chunk
  const lines = rest.split('\\n'); rest = lines.pop()
  for (const line of lines) {
    if (line.startsWith('+dir ')) dirs.add(line.slice(5))
    else if (line.startsWith('-dir ')) dirs.delete(line.slice(5))
    else if (line.startsWith('+')) pids.add(Number(line.slice(1)))
    else if (line.startsWith('-')) pids.delete(Number(line.slice(1)))
  }
})
const reap = () => {
  for (const pid of pids) { try { process.kill(pid, 'SIGCONT'); process.kill(pid, 'SIGKILL') } catch {} }
  setTimeout(() => {
    for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }) } catch {} }
    process.exit(0)
  }, 200)
}
process.stdin.on('end', reap); process.stdin.on('close', reap); process.stdin.on('error', reap)
`

let reaper: ChildProcess | undefined
const children = new Set<ChildProcess>()
const dirs = new Set<string>()
let exitHookInstalled = false

function send(line: string): void {
  if (!reaper) {
    reaper = spawn(process.execPath, ['-e', REAPER_SOURCE], {
      stdio: ['pipe', 'ignore', 'ignore'],
      detached: true,
    })
    reaper.unref()
    const stdin = reaper.stdin as (NodeJS.WritableStream & { unref?: () => void }) | null
    stdin?.on('error', () => {})
    stdin?.unref?.()
  }
  reaper.stdin?.write(`${line}\n`)
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of children) {
      try {
        child.kill('SIGCONT')
        child.kill('SIGKILL')
      } catch {}
    }
    for (const dir of dirs) {
      try {
        rmSync(dir, { recursive: true, force: true })
      } catch {}
    }
  })
}

/** Registers a child so it dies with this process (normal exit, signal or SIGKILL). */
export function track(child: ChildProcess): void {
  installExitHook()
  children.add(child)
  if (child.pid !== undefined) send(`+${child.pid}`)
  child.once('exit', () => {
    children.delete(child)
    if (child.pid !== undefined) send(`-${child.pid}`)
  })
}

/** Registers a temporary directory to remove when this process ends. */
export function trackDir(dir: string): void {
  installExitHook()
  dirs.add(dir)
  send(`+dir ${dir}`)
}

/** Forgets a directory removed by its owner. */
export function untrackDir(dir: string): void {
  dirs.delete(dir)
  send(`-dir ${dir}`)
}
