import {
  InvalidOptionError,
  isTierCacheError,
  parseDuration,
  StoreError,
  StoreTimeoutError,
} from '@tiercache/core/store'
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import type {
  AnyRedisClient,
  ClusterClientLike,
  RedisClientLike,
  RedisConnectionOptions,
  RedisTlsOptions,
} from './options.js'

/** Connection status as ioredis reports it (Redis and Cluster). */
type Status = AnyRedisClient['status']

const DEFAULT_COMMAND_TIMEOUT = 1000
const DEFAULT_CONNECT_TIMEOUT = 5000
const TIMEOUT_MESSAGE = 'Command timed out'

function tlsOption(tls: boolean | RedisTlsOptions | undefined): RedisOptions['tls'] | undefined {
  if (tls === undefined || tls === false) return undefined
  if (tls === true) return {}
  const out: Record<string, unknown> = {}
  for (const k of ['ca', 'cert', 'key', 'rejectUnauthorized', 'servername'] as const) {
    if (tls[k] !== undefined) out[k] = tls[k]
  }
  return out as RedisOptions['tls']
}

/** Parses `redis://` and `rediss://` URLs into ioredis options. */
export function parseRedisUrl(url: string): RedisOptions {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InvalidOptionError(`url is not a valid URL: ${JSON.stringify(url.slice(0, 100))}`, {
      option: 'url',
    })
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new InvalidOptionError(`url must start with redis:// or rediss://, got ${parsed.protocol}//`, {
      option: 'url',
    })
  }
  const out: RedisOptions = {}
  if (parsed.hostname) out.host = parsed.hostname.replace(/^\[|\]$/g, '')
  if (parsed.port) out.port = Number(parsed.port)
  if (parsed.username) out.username = decodeURIComponent(parsed.username)
  if (parsed.password) out.password = decodeURIComponent(parsed.password)
  const path = parsed.pathname.replace(/^\//, '')
  if (path) {
    const db = Number(path)
    if (!Number.isInteger(db) || db < 0) {
      throw new InvalidOptionError(`url path must be a database index, got /${path}`, { option: 'url' })
    }
    out.db = db
  }
  if (parsed.protocol === 'rediss:') out.tls = {}
  return out
}

function positiveDuration(value: unknown, fallback: number, option: string): number {
  const ms = value === undefined ? fallback : parseDuration(value, option)
  if (!(ms > 0) || !Number.isFinite(ms)) {
    throw new InvalidOptionError(`${option} must be a positive finite duration`, { option })
  }
  return Math.ceil(ms)
}

/** A connection the package uses: the client, whether it owns it, and its state. */
export interface ConnectionSpec {
  readonly client: AnyRedisClient
  readonly owned: boolean
  readonly commandTimeout: number
}

/**
 * Validates connection options and creates (or adopts) the client.
 *
 * @param options - the user's options
 */
export function createClient(options: RedisConnectionOptions): ConnectionSpec {
  if (options === null || typeof options !== 'object') {
    throw new InvalidOptionError('options must be an object', { option: 'options' })
  }
  const sources = (['url', 'client', 'cluster', 'sentinel'] as const).filter((k) => options[k] !== undefined)
  if (sources.length > 1) {
    throw new InvalidOptionError(
      `give only one of url, client, cluster, sentinel (got ${sources.join(', ')})`,
      {
        option: sources[1],
      },
    )
  }
  if (options.owned !== undefined && typeof options.owned !== 'boolean') {
    throw new InvalidOptionError('owned must be a boolean', { option: 'owned' })
  }
  const commandTimeout = positiveDuration(options.commandTimeout, DEFAULT_COMMAND_TIMEOUT, 'commandTimeout')

  if (options.client !== undefined) {
    const client = options.client
    if (typeof client !== 'object' || client === null || typeof client.getBuffer !== 'function') {
      throw new InvalidOptionError('client must be an ioredis Redis or Cluster instance', {
        option: 'client',
      })
    }
    for (const k of [
      'redisOptions',
      'tls',
      'username',
      'password',
      'db',
      'connectTimeout',
      'enableOfflineQueue',
      'maxRetriesPerRequest',
    ] as const) {
      if (options[k] !== undefined) {
        throw new InvalidOptionError(`${k} cannot be combined with client: configure the client itself`, {
          option: k,
        })
      }
    }
    const own = client.isCluster
      ? (client as ClusterClientLike).options.redisOptions?.commandTimeout
      : (client as RedisClientLike).options.commandTimeout
    return {
      client,
      owned: options.owned === true,
      commandTimeout: options.commandTimeout === undefined && own ? own : commandTimeout,
    }
  }

  const connectTimeout = positiveDuration(options.connectTimeout, DEFAULT_CONNECT_TIMEOUT, 'connectTimeout')
  const maxRetriesPerRequest = options.maxRetriesPerRequest ?? 1
  if (!Number.isInteger(maxRetriesPerRequest) || maxRetriesPerRequest < 0) {
    throw new InvalidOptionError('maxRetriesPerRequest must be a non-negative integer', {
      option: 'maxRetriesPerRequest',
    })
  }
  if (options.db !== undefined && (!Number.isInteger(options.db) || options.db < 0)) {
    throw new InvalidOptionError('db must be a non-negative integer', { option: 'db' })
  }
  if (options.db !== undefined && options.cluster) {
    throw new InvalidOptionError('db cannot be used with a Cluster (Cluster has only database 0)', {
      option: 'db',
    })
  }
  if (options.tls !== undefined && typeof options.tls !== 'boolean' && typeof options.tls !== 'object') {
    throw new InvalidOptionError('tls must be a boolean or an object', { option: 'tls' })
  }
  const enableOfflineQueue = options.enableOfflineQueue ?? false

  const fromUrl = options.url !== undefined ? parseRedisUrl(String(options.url)) : {}
  const tls = tlsOption(options.tls)
  const named: RedisOptions = {
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.db !== undefined ? { db: options.db } : {}),
    ...(tls !== undefined ? { tls } : {}),
  }
  const common: RedisOptions = {
    commandTimeout,
    connectTimeout,
    maxRetriesPerRequest,
    enableOfflineQueue,
  }

  if (options.cluster) {
    const { nodes, options: clusterOptions } = options.cluster
    if (!Array.isArray(nodes) || nodes.length === 0) {
      throw new InvalidOptionError('cluster.nodes must be a non-empty array', { option: 'cluster.nodes' })
    }
    const redisOptions: RedisOptions = {
      ...options.redisOptions,
      ...clusterOptions?.redisOptions,
      ...named,
      ...common,
      enableOfflineQueue: true,
    }
    const clusterOpts: ClusterOptions = {
      enableAutoPipelining: true,
      // Fail fast: by default ioredis retries a command whose node connection closed (or that
      // met CLUSTERDOWN) every 100 ms up to maxRedirections times, which can take seconds.
      retryDelayOnFailover: 0,
      retryDelayOnClusterDown: 0,
      ...clusterOptions,
      enableOfflineQueue,
      redisOptions,
    }
    const client = new Cluster(
      nodes.map((n) => (typeof n === 'string' ? n : { host: n.host, port: n.port })),
      clusterOpts,
    )
    return { client, owned: true, commandTimeout }
  }

  const sentinel = options.sentinel
  if (sentinel) {
    if (!Array.isArray(sentinel.sentinels) || sentinel.sentinels.length === 0 || !sentinel.name) {
      throw new InvalidOptionError('sentinel needs sentinels (non-empty) and name', { option: 'sentinel' })
    }
  }
  const client = new Redis({
    enableAutoPipelining: true,
    // Leave a master the moment the Sentinels announce a new one (`+switch-master`), instead of
    // writing to a demoted master that is still up until Sentinel reconfigures it.
    ...(sentinel ? { failoverDetector: true } : {}),
    ...options.redisOptions,
    ...fromUrl,
    ...named,
    ...common,
    ...(sentinel
      ? {
          sentinels: sentinel.sentinels.map((s) => ({ host: s.host, port: s.port })),
          name: sentinel.name,
          ...(sentinel.sentinelUsername !== undefined ? { sentinelUsername: sentinel.sentinelUsername } : {}),
          ...(sentinel.sentinelPassword !== undefined ? { sentinelPassword: sentinel.sentinelPassword } : {}),
        }
      : {}),
  })
  return { client, owned: true, commandTimeout }
}

/**
 * A client plus what the package tracks about it: the last connection error (for clear error
 * messages), connection state listeners, waiting for a connection that is being established,
 * error wrapping and closing.
 */
export class RedisConnection {
  /** The ioredis client. */
  readonly client: AnyRedisClient
  /** Whether {@link RedisConnection.close} closes the client. */
  readonly owned: boolean
  /** True for a Cluster client. */
  readonly isCluster: boolean
  /** Command timeout in milliseconds (for error messages and connection waits). */
  readonly commandTimeout: number
  /** Store name used in errors. */
  readonly storeName: string
  readonly #offlineQueue: boolean
  #lastError: Error | undefined
  #connected: boolean
  #closed = false
  #errors = 0
  readonly #statusListeners = new Set<(connected: boolean) => void>()
  /** Calls waiting for a connection being established: `true` when ready, `false` when it failed. */
  readonly #readyWaiters = new Set<(ready: boolean) => void>()
  readonly #onError = (err: Error & { lastNodeError?: Error }): void => {
    this.#lastError = err.lastNodeError ?? err
  }
  readonly #onReady = (): void => {
    this.#lastError = undefined
    this.#wake(true)
    this.#setConnected(true)
  }
  readonly #onClose = (): void => {
    this.#wake(false)
    this.#setConnected(false)
  }

  /**
   * @param spec - the client and ownership
   * @param storeName - name used in errors (`store` field)
   */
  constructor(spec: ConnectionSpec, storeName: string) {
    this.client = spec.client
    this.owned = spec.owned
    this.commandTimeout = spec.commandTimeout
    this.storeName = storeName
    this.isCluster = spec.client.isCluster === true
    const opts = spec.client.options as { enableOfflineQueue?: boolean }
    this.#offlineQueue = opts.enableOfflineQueue === true
    this.#connected = spec.client.status === 'ready'
    this.client.on('error', this.#onError)
    if (this.isCluster) this.client.on('node error', this.#onError)
    this.client.on('ready', this.#onReady)
    this.client.on('close', this.#onClose)
    this.client.on('end', this.#onClose)
  }

  /** Failed operations counted by {@link RedisConnection.fail}. */
  get errors(): number {
    return this.#errors
  }

  /** Whether the client is ready for commands. */
  get connected(): boolean {
    return this.client.status === 'ready'
  }

  #wake(ready: boolean): void {
    if (this.#readyWaiters.size === 0) return
    const waiters = [...this.#readyWaiters]
    this.#readyWaiters.clear()
    for (const wake of waiters) wake(ready)
  }

  #setConnected(value: boolean): void {
    if (value === this.#connected) return
    this.#connected = value
    for (const listener of this.#statusListeners) {
      try {
        listener(value)
      } catch {}
    }
  }

  /** Subscribes to connection changes; returns the unsubscribe function. */
  onStatusChange(listener: (connected: boolean) => void): () => void {
    this.#statusListeners.add(listener)
    return () => {
      this.#statusListeners.delete(listener)
    }
  }

  /**
   * Call when the client is not `ready`: resolves when commands may be sent, rejects with a
   * `StoreError` naming the last connection error when Redis is down (at once while
   * reconnecting; after at most `commandTimeout` while a connection is being established).
   */
  waitReady(operation: string, key?: string): Promise<void> {
    const status: Status = this.client.status
    if (status === 'ready') return Promise.resolve()
    if (this.#closed || status === 'end' || status === 'disconnecting') {
      this.#errors++
      return Promise.reject(
        new StoreError(`${this.storeName} ${operation} failed: the connection is closed`, {
          store: this.storeName,
          operation,
          key,
        }),
      )
    }
    if (this.#offlineQueue) return Promise.resolve()
    if (status === 'reconnecting' || status === 'close') {
      this.#errors++
      return Promise.reject(this.#notConnected(operation, key, false))
    }
    if (status === 'wait') this.client.connect().catch(() => {})
    return new Promise((resolve, reject) => {
      const wake = (ready: boolean): void => {
        clearTimeout(timer)
        if (ready) resolve()
        else {
          this.#errors++
          reject(this.#notConnected(operation, key, false))
        }
      }
      const timer = setTimeout(() => {
        this.#readyWaiters.delete(wake)
        this.#errors++
        reject(this.#notConnected(operation, key, true))
      }, this.commandTimeout)
      this.#readyWaiters.add(wake)
    })
  }

  #notConnected(operation: string, key: string | undefined, waited: boolean): StoreError {
    const last = this.#lastError
    const ctx = { store: this.storeName, operation, key, cause: last }
    if (last) {
      return new StoreError(
        `${this.storeName} ${operation} failed: Redis is not reachable: ${last.message}`,
        ctx,
      )
    }
    if (waited) return new StoreTimeoutError(this.commandTimeout, ctx)
    return new StoreError(`${this.storeName} ${operation} failed: Redis is not connected`, ctx)
  }

  /** Wraps a driver error in `StoreError` (`StoreTimeoutError` for command timeouts) and counts it. */
  fail(operation: string, key: string | undefined, error: unknown): Error {
    this.#errors++
    if (isTierCacheError(error)) return error as Error
    const err = error as Error | undefined
    const message = err?.message ?? String(error)
    const ctx = { store: this.storeName, operation, key, cause: error }
    if (message === TIMEOUT_MESSAGE) return new StoreTimeoutError(this.commandTimeout, ctx)
    if (
      /isn't writeable|isn't ready|Connection is closed|MaxRetriesPerRequest/i.test(message) &&
      this.#lastError
    ) {
      return new StoreError(
        `${this.storeName} ${operation} failed: Redis is not reachable: ${this.#lastError.message}`,
        { ...ctx, cause: error },
      )
    }
    return new StoreError(`${this.storeName} ${operation} failed: ${message}`, ctx)
  }

  /** Detaches listeners and, when owned, closes the client. Harmless to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#wake(false)
    this.#statusListeners.clear()
    this.client.off('ready', this.#onReady)
    this.client.off('close', this.#onClose)
    this.client.off('end', this.#onClose)
    if (!this.owned) {
      this.client.off('error', this.#onError)
      this.client.off('node error', this.#onError)
      return
    }
    // Keep swallowing connection errors of an owned client while it shuts down.
    await closeClient(this.client)
  }
}

/**
 * Closes a client: `QUIT` when connected, else disconnect at once; resolves when the client has
 * ended (at most about 1 s).
 */
export async function closeClient(client: AnyRedisClient): Promise<void> {
  if (client.status === 'end') return
  if (client.status === 'reconnecting' || client.status === 'close') {
    // No live socket: disconnect() only cancels the pending reconnect, no 'end' event follows.
    client.disconnect()
    return
  }
  const ended = new Promise<void>((resolve) => {
    const timer = setTimeout(done, 1000)
    function done(): void {
      clearTimeout(timer)
      client.off('end', done)
      resolve()
    }
    client.on('end', done)
  })
  if (client.status === 'ready') {
    client.quit().catch(() => client.disconnect())
  } else {
    client.disconnect()
  }
  await ended
  // The status changed while we waited (TypeScript cannot know).
  if ((client.status as string) !== 'end') client.disconnect()
}
