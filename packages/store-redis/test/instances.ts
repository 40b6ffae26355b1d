import { type ChildProcess, fork } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

const packages = join(import.meta.dirname, '..', '..')
const fixture = join(import.meta.dirname, 'fixtures', 'instance.mjs')

/** Child processes import the built packages: fail early with a clear message if they are missing. */
export function assertBuilt(): void {
  for (const pkg of ['core', 'store-memory', 'store-redis']) {
    const entry = join(packages, pkg, 'dist', 'index.js')
    if (!existsSync(entry)) throw new Error(`${entry} is missing: run \`pnpm build\` before these tests`)
  }
  if (!readFileSync(join(packages, 'core', 'dist', 'index.js'), 'utf8').includes('createCache')) {
    throw new Error('packages/core/dist has no createCache: run `pnpm build` before these tests')
  }
}

/** What a child instance is configured with. */
export interface InstanceConfig {
  readonly url?: string
  readonly cluster?: readonly { host: string; port: number }[]
  readonly prefix: string
  readonly namespace?: string
  readonly commandTimeout?: number
  /** `false` leaves out redisLock (control runs). @default true */
  readonly lock?: boolean
}

/** A cache instance (L1 + L2 + bus + lock) in its own process. */
export interface Instance {
  readonly pid: number
  call<T = unknown>(op: string, ...args: unknown[]): Promise<T>
  close(): Promise<void>
}

/** Starts one instance process and waits until it is ready. */
export function startInstance(config: InstanceConfig): Promise<Instance> {
  return startFixture(fixture, { TC_INSTANCE: JSON.stringify(config) })
}

/** A fixture process driven over IPC (`instance.mjs`, `relay.mjs`, `region-instance.mjs`). */
export interface Child extends Instance {
  /** SIGKILL, and wait until it is gone. */
  kill(): Promise<void>
}

/**
 * Starts `fixtures/<name>` with `env` added, and waits for its `{ ready: true }`.
 *
 * @param file - the fixture file (absolute) or its name under `fixtures/`
 */
export async function startFixture(file: string, env: Record<string, string>): Promise<Child> {
  const path = file.includes('/') ? file : join(import.meta.dirname, 'fixtures', file)
  const child: ChildProcess = fork(path, [], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  let nextId = 1
  let exited = false
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`instance exited during startup (code ${code})`)))
    child.on('message', (m: { ready?: boolean }) => {
      if (m.ready) resolve()
    })
  })
  child.on('message', (m: { id?: number; result?: unknown; error?: { message: string; code?: string } }) => {
    if (m.id === undefined) return
    const p = pending.get(m.id)
    pending.delete(m.id)
    if (!p) return
    if (m.error) p.reject(Object.assign(new Error(m.error.message), { code: m.error.code }))
    else p.resolve(m.result)
  })
  child.on('exit', () => {
    exited = true
    for (const p of pending.values()) p.reject(new Error('instance exited'))
    pending.clear()
  })
  return {
    pid: child.pid ?? -1,
    async kill(): Promise<void> {
      if (exited) return
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGKILL')
      await gone
    },
    call<T>(op: string, ...args: unknown[]): Promise<T> {
      if (exited) return Promise.reject(new Error('instance exited'))
      const id = nextId++
      return new Promise<T>((resolve, reject) => {
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
        child.send({ id, op, args })
      })
    },
    async close(): Promise<void> {
      if (exited) return
      const gone = new Promise((r) => child.once('exit', r))
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000)
      try {
        child.send({ id: nextId++, op: 'close' })
      } catch {
        child.kill('SIGKILL')
      }
      await gone
      clearTimeout(timer)
    },
  }
}

/** The p-th percentile (0-100) of `values`. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)
  return sorted[Math.max(0, i)] ?? Number.NaN
}
