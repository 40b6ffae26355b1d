import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

const appDir = join(import.meta.dirname, '..')
const main = join(appDir, 'dist', 'main.js')

/** Keywords seeded in tests: enough for real scans, quick to seed. */
export const TEST_KEYWORDS = 20_000

/** A running service process. */
export interface ExampleProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Everything it printed so far (stdout and stderr interleaved). */
  output(): string
  /** Sends SIGTERM and resolves its exit code. */
  stop(): Promise<number | null>
  /** Sends SIGKILL. */
  kill(): Promise<void>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

/**
 * Starts `node dist/main.js` on port 0 with a clean environment (no `REDIS_URL` or `TIERCACHE_*`
 * from the machine unless given) and resolves once it prints its ready line.
 */
export async function startExample(env: Record<string, string>): Promise<ExampleProcess> {
  if (!existsSync(main)) throw new Error(`${main} is missing: run \`pnpm build\` first`)
  const child = spawn(process.execPath, [main], {
    cwd: appDir,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      PORT: '0',
      KEYWORDS_COUNT: String(TEST_KEYWORDS),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    out += d
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      running.delete(child)
      resolve(code)
    }),
  )
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ready line after 60 s:\n${out}`)), 60_000)
    const onData = (): void => {
      const m = /listening on (http:\/\/\S+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        child.stdout.off('data', onData)
        resolve(m[1] as string)
      }
    }
    child.stdout.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`the service exited with ${code} before it was ready:\n${out}`))
    })
  })
  return {
    url,
    child,
    output: () => out,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM')
      return exited
    },
    kill: async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    },
  }
}

/** A JSON request: status, headers and parsed body. */
export async function request<T = any>(
  url: string,
  init: { method?: string; body?: unknown } = {},
): Promise<{ status: number; headers: Headers; body: T }> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body === undefined
      ? {}
      : { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
  })
  const text = await res.text()
  const type = res.headers.get('content-type') ?? ''
  return {
    status: res.status,
    headers: res.headers,
    body: (type.includes('json') ? JSON.parse(text) : text) as T,
  }
}

/** The value of one Prometheus sample, or 0 when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}
