import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { track, trackDir, untrackDir } from './reaper.js'
import { type RespReply, type RespTarget, redisCommand } from './resp.js'
import { makeTlsCertificates, type TlsCertificates } from './tls.js'

/** An ACL user for {@link startRedis}. */
export interface AclUser {
  /** User name. */
  readonly username: string
  /** Password. */
  readonly password: string
}

/** TLS settings for {@link startRedis}. */
export interface RedisTlsOptions {
  /** Certificates to use. @default fresh ones from {@link makeTlsCertificates} in the server's directory */
  readonly certificates?: TlsCertificates
  /** Require clients to present a certificate signed by the CA (`tls-auth-clients yes`). @default false */
  readonly clientAuth?: boolean
}

/** Options for {@link startRedis}. */
export interface RedisServerOptions {
  /** TCP port (the TLS port for TLS servers). @default a free port from {@link freePort} */
  readonly port?: number
  /** Serve TLS only (plain `port 0`). `true` makes fresh certificates. @default false */
  readonly tls?: boolean | RedisTlsOptions
  /**
   * Create this ACL user with every permission, and disable the `default` user so every
   * connection must authenticate. @default no ACL (the default user needs no password)
   */
  readonly acl?: AclUser
  /** Extra `redis-server` arguments, for example `['--maxmemory', '10mb']`. @default [] */
  readonly args?: readonly string[]
  /** How long to wait for the server to answer `PING`, in milliseconds. @default 10_000 */
  readonly readyTimeout?: number
  /** Binary to run. @default 'redis-server' (from PATH) */
  readonly binary?: string
}

/** A `redis-server` child process started by {@link startRedis}. */
export interface RedisServer {
  /** Always `'127.0.0.1'`. */
  readonly host: string
  /** The port clients connect to (the TLS port for TLS servers). */
  readonly port: number
  /** `redis://127.0.0.1:<port>` or `rediss://localhost:<port>` for TLS, without credentials. */
  readonly url: string
  /** The certificates, for TLS servers. */
  readonly certificates: TlsCertificates | undefined
  /** The ACL user, when one was created. */
  readonly acl: AclUser | undefined
  /** The server's working directory (removed by {@link RedisServer.stop}). */
  readonly dir: string
  /** Process id while running. */
  readonly pid: number | undefined
  /** True between a successful start and a kill or stop. */
  readonly running: boolean
  /** True while stopped by {@link RedisServer.pause}. */
  readonly paused: boolean
  /** How the helper itself reaches the server (TLS and ACL included), for {@link redisCommand}. */
  readonly target: RespTarget
  /** Sends one command to the server with the helper's own client. */
  command(...args: (string | number)[]): Promise<RespReply>
  /** Kills the process with SIGKILL (no shutdown, data lost) and waits for it to exit. */
  kill(): Promise<void>
  /** Freezes the process with SIGSTOP: connections stay open, nothing answers. */
  pause(): void
  /** Thaws a paused process with SIGCONT. */
  resume(): void
  /** Kills the process if it runs, then starts it again on the same port and waits until it answers. */
  restart(): Promise<void>
  /** Terminates the process (for good) and removes its directory. Harmless to call twice. */
  stop(): Promise<void>
  /** The last lines the server printed, for error messages. */
  logs(): string
}

const READY_POLL_MS = 25

/** Arguments every helper server gets: loopback only, no persistence. */
export function baseArgs(port: number, dir: string): string[] {
  return [
    '--bind',
    '127.0.0.1',
    '--port',
    String(port),
    '--protected-mode',
    'no',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--daemonize',
    'no',
    '--logfile',
    '',
  ]
}

/**
 * One managed child process: spawn, wait for readiness, kill, pause, restart, stop. Keeps the
 * last 200 output lines and registers the child with the reaper so it never outlives the test
 * process.
 */
export class ManagedProcess {
  readonly #binary: string
  readonly #args: () => string[]
  readonly #probe: (pid: number) => Promise<unknown>
  readonly #readyTimeout: number
  #child: ChildProcess | undefined
  #exited: Promise<void> = Promise.resolve()
  #lines: string[] = []
  #paused = false
  #stopped = false

  /**
   * @param binary - executable
   * @param args - builds the argument list for each start
   * @param probe - resolves when the process with this pid is ready to serve
   * @param readyTimeout - milliseconds
   */
  constructor(
    binary: string,
    args: () => string[],
    probe: (pid: number) => Promise<unknown>,
    readyTimeout: number,
  ) {
    this.#binary = binary
    this.#args = args
    this.#probe = probe
    this.#readyTimeout = readyTimeout
  }

  /** Process id while running. */
  get pid(): number | undefined {
    return this.#child?.pid
  }

  /** True while the child runs. */
  get running(): boolean {
    return this.#child !== undefined
  }

  /** True while paused. */
  get paused(): boolean {
    return this.#paused
  }

  /** The last output lines. */
  logs(): string {
    return this.#lines.join('\n')
  }

  /** Starts the process and waits until `probe` succeeds. */
  async start(): Promise<void> {
    if (this.#stopped) throw new Error('this server was stopped; start a new one')
    if (this.#child) return
    const child = spawn(this.#binary, this.#args(), { stdio: ['ignore', 'pipe', 'pipe'] })
    track(child)
    this.#child = child
    this.#paused = false
    const collect = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (!line) continue
        this.#lines.push(line)
        if (this.#lines.length > 200) this.#lines.shift()
      }
    }
    child.stdout?.on('data', collect)
    child.stderr?.on('data', collect)
    let exitInfo: string | undefined
    this.#exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        exitInfo = signal ? `signal ${signal}` : `code ${code}`
        if (this.#child === child) this.#child = undefined
        this.#paused = false
        resolve()
      })
      child.once('error', (e) => {
        exitInfo = e.message
        if (this.#child === child) this.#child = undefined
        resolve()
      })
    })
    const deadline = Date.now() + this.#readyTimeout
    let lastError: unknown
    for (;;) {
      if (exitInfo !== undefined) {
        throw new Error(`${this.#binary} exited during startup (${exitInfo}):\n${this.logs()}`)
      }
      try {
        await this.#probe(child.pid ?? -1)
        if (exitInfo === undefined) return
      } catch (e) {
        lastError = e
      }
      if (Date.now() > deadline) {
        await this.kill()
        throw new Error(
          `${this.#binary} did not become ready within ${this.#readyTimeout}ms: ${String(lastError)}\n${this.logs()}`,
        )
      }
      await new Promise((r) => setTimeout(r, READY_POLL_MS))
    }
  }

  /** SIGKILL and wait for exit. */
  async kill(): Promise<void> {
    const child = this.#child
    if (!child) return
    try {
      child.kill('SIGCONT')
      child.kill('SIGKILL')
    } catch {}
    await this.#exited
  }

  /** SIGSTOP. */
  pause(): void {
    if (!this.#child) throw new Error('the server is not running')
    this.#child.kill('SIGSTOP')
    this.#paused = true
  }

  /** SIGCONT. */
  resume(): void {
    if (!this.#child) return
    this.#child.kill('SIGCONT')
    this.#paused = false
  }

  /** SIGTERM (SIGKILL after 3 s) and wait; the process cannot be started again. */
  async stop(): Promise<void> {
    this.#stopped = true
    const child = this.#child
    if (!child) return
    try {
      child.kill('SIGCONT')
      child.kill('SIGTERM')
    } catch {}
    const timer = setTimeout(() => {
      try {
        child.kill('SIGKILL')
      } catch {}
    }, 3000)
    await this.#exited
    clearTimeout(timer)
  }
}

/**
 * Resolves when the server at `target` answers and is the process `pid` (not another server
 * that happens to listen on the port).
 */
export async function probeProcess(target: RespTarget, pid: number): Promise<void> {
  const info = String(await redisCommand({ ...target, timeout: 500 }, 'INFO', 'server'))
  const m = /process_id:(\d+)/.exec(info)
  if (!m || Number(m[1]) !== pid) {
    throw new Error(`port ${target.port} is served by another process (pid ${m?.[1] ?? '?'})`)
  }
}

function isAddressInUse(e: unknown): boolean {
  return /Address already in use|another process|Could not create server TCP listening socket/i.test(
    String(e),
  )
}

/**
 * Starts a `redis-server` child process on a free loopback port with persistence off
 * (`--save '' --appendonly no`), optionally serving TLS only or requiring an ACL user, and
 * waits until it answers `PING`. The process dies with the test process, even when the test
 * runner kills it; call {@link RedisServer.stop} in `afterAll` anyway.
 *
 * @param options - TLS, ACL, port and extra arguments
 * @returns a handle to kill, pause, resume, restart and stop the server
 * @example
 * ```ts
 * const server = await startRedis()
 * afterAll(() => server.stop())
 * const store = redisStore({ url: server.url })
 * await server.kill()      // outage
 * await server.restart()   // back, empty
 * ```
 */
export async function startRedis(options: RedisServerOptions = {}): Promise<RedisServer> {
  const attempts = options.port === undefined ? 5 : 1
  let lastError: unknown
  for (let i = 0; i < attempts; i++) {
    const port = options.port ?? (await freePort())
    try {
      return await startOn(port, options)
    } catch (e) {
      lastError = e
      if (!isAddressInUse(e)) throw e
    }
  }
  throw lastError
}

async function startOn(port: number, options: RedisServerOptions): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-redis-'))
  trackDir(dir)
  try {
    const tlsOptions: RedisTlsOptions | undefined =
      options.tls === true ? {} : options.tls === false ? undefined : options.tls
    const certificates = tlsOptions
      ? (tlsOptions.certificates ?? (await makeTlsCertificates(join(dir))))
      : undefined
    const acl = options.acl
    const args = (): string[] => {
      const list = baseArgs(certificates ? 0 : port, dir)
      if (certificates) {
        list.push(
          '--tls-port',
          String(port),
          '--tls-cert-file',
          certificates.certFile,
          '--tls-key-file',
          certificates.keyFile,
          '--tls-ca-cert-file',
          certificates.caFile,
          '--tls-auth-clients',
          tlsOptions?.clientAuth ? 'yes' : 'no',
        )
      }
      if (acl) {
        list.push('--user', acl.username, 'on', `>${acl.password}`, '~*', '&*', '+@all')
        list.push('--user', 'default', 'off')
      }
      list.push(...(options.args ?? []))
      return list
    }
    const target: RespTarget = {
      port,
      ...(certificates
        ? {
            tls: {
              ca: certificates.ca,
              ...(tlsOptions?.clientAuth
                ? { cert: certificates.clientCert, key: certificates.clientKey }
                : {}),
            },
          }
        : {}),
      ...(acl ? { auth: { username: acl.username, password: acl.password } } : {}),
    }
    const proc = new ManagedProcess(
      options.binary ?? 'redis-server',
      args,
      (pid) => probeProcess(target, pid),
      options.readyTimeout ?? 10_000,
    )
    await proc.start()
    return serverHandle({ proc, port, dir, target, certificates, acl })
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    untrackDir(dir)
    throw e
  }
}

/** Builds the {@link RedisServer} handle around a managed process. */
export function serverHandle(parts: {
  proc: ManagedProcess
  port: number
  dir: string
  target: RespTarget
  certificates?: TlsCertificates | undefined
  acl?: AclUser | undefined
  afterRestart?: () => Promise<void>
}): RedisServer {
  const { proc, port, dir, target, certificates, acl, afterRestart } = parts
  let removed = false
  return {
    host: '127.0.0.1',
    port,
    url: certificates ? `rediss://localhost:${port}` : `redis://127.0.0.1:${port}`,
    certificates,
    acl,
    dir,
    target,
    get pid() {
      return proc.pid
    },
    get running() {
      return proc.running
    },
    get paused() {
      return proc.paused
    },
    command: (...cmd) => redisCommand(target, ...cmd),
    kill: () => proc.kill(),
    pause: () => proc.pause(),
    resume: () => proc.resume(),
    restart: async () => {
      await proc.kill()
      await proc.start()
      await afterRestart?.()
    },
    stop: async () => {
      await proc.stop()
      if (!removed) {
        removed = true
        rmSync(dir, { recursive: true, force: true })
        untrackDir(dir)
      }
    },
    logs: () => proc.logs(),
  }
}
