import {
  type Bus,
  type BusHandlers,
  type BusMessage,
  type BusMessageType,
  type BusStats,
  InvalidOptionError,
  parseDuration,
} from '@tiercache/core'
import { Redis } from 'ioredis'
import {
  type AnyRedisClient,
  type ClusterClientLike,
  createClient,
  type RedisClientLike,
  RedisConnection,
} from './client.js'
import type { RedisBusOptions, RedisStreamBusOptions } from './options.js'
import { checkPrefix } from './redis-store.js'
import { RedisStreamBus } from './redis-stream-bus.js'

const TYPES: ReadonlySet<string> = new Set<BusMessageType>(['set', 'delete', 'pattern', 'tags', 'clear'])

/**
 * Encodes a message as compact JSON with one-letter fields:
 * `{"v":1,"i":instanceId,"n":namespace,"t":type,"k":keys,"p":pattern,"g":tags,"a":at,"x":prefix,"l":1}`
 * (`l` only for a `set` of a loaded value).
 * Values are never part of a message.
 *
 * @param message - the message
 */
export function encodeBusMessage(message: BusMessage): string {
  const o: Record<string, unknown> = { v: 1, i: message.instanceId, n: message.namespace, t: message.type }
  if (message.keys !== undefined) o.k = message.keys
  if (message.pattern !== undefined) o.p = message.pattern
  if (message.tags !== undefined) o.g = message.tags
  if (message.at !== undefined) o.a = message.at
  if (message.prefix !== undefined) o.x = message.prefix
  if (message.load === true) o.l = 1
  return JSON.stringify(o)
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string')

/**
 * Decodes {@link encodeBusMessage} output; `undefined` for anything malformed.
 *
 * @param text - the received payload
 */
export function decodeBusMessage(text: string): BusMessage | undefined {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof o !== 'object' || o === null || o.v !== 1) return undefined
  if (typeof o.i !== 'string' || typeof o.n !== 'string' || typeof o.t !== 'string' || !TYPES.has(o.t)) {
    return undefined
  }
  const m: { -readonly [K in keyof BusMessage]: BusMessage[K] } = {
    instanceId: o.i,
    namespace: o.n,
    type: o.t as BusMessageType,
  }
  if (isStrings(o.k)) m.keys = o.k
  if (typeof o.p === 'string') m.pattern = o.p
  if (isStrings(o.g)) m.tags = o.g
  if (typeof o.a === 'number') m.at = o.a
  if (typeof o.x === 'string') m.prefix = o.x
  if (o.l === 1) m.load = true
  return m
}

interface Pending {
  readonly payload: string
  attempts: number
}

/**
 * The invalidation bus on Redis pub/sub: one channel (`<prefix>__bus`), a dedicated subscriber
 * connection (a duplicate of the publishing client, Cluster too), compact JSON messages with
 * keys, patterns and tags but never values. Failed publishes wait in a bounded queue and are
 * retried with capped exponential backoff; when the subscriber loses its connection and gets it
 * back, the bus calls `handlers.reconnected()` so the engine flushes its L1. Create it with
 * {@link redisBus}.
 */
export class RedisBus implements Bus {
  /** The pub/sub channel. */
  readonly channel: string
  readonly #pub: RedisConnection
  /** The subscription connection; replaced when a Cluster subscriber moves to another node. */
  #sub: RedisConnection | undefined
  readonly #commandTimeout: number
  #nodeIndex = 0
  #rotations = 0
  #rotateTimer: ReturnType<typeof setTimeout> | undefined
  #cancelWait: (() => void) | undefined
  readonly #maxQueue: number
  readonly #retryDelay: number
  readonly #maxRetryDelay: number
  readonly #maxAttempts: number
  readonly #ownIds = new Set<string>()
  readonly #queue: Pending[] = []
  #handlers: BusHandlers | undefined
  #subscribed = false
  #subscribing = false
  #missed = false
  #closed = false
  #closing: Promise<void> | undefined
  #retryTimer: ReturnType<typeof setTimeout> | undefined
  #resubscribeTimer: ReturnType<typeof setTimeout> | undefined
  #failures = 0
  #sent = 0
  #received = 0
  #failed = 0
  #firstSubscribe: (() => void) | undefined

  /**
   * @param options - connection, prefix or channel, retry queue bounds; see {@link RedisBusOptions}
   */
  constructor(options: RedisBusOptions = {}) {
    const prefix = checkPrefix(options.prefix)
    const channel = options.channel ?? `${prefix}__bus`
    if (typeof channel !== 'string' || !channel) {
      throw new InvalidOptionError('channel must be a non-empty string', { option: 'channel' })
    }
    this.channel = channel
    const maxQueue = options.maxQueue ?? 1000
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new InvalidOptionError('maxQueue must be a non-negative integer', { option: 'maxQueue' })
    }
    this.#maxQueue = maxQueue
    const maxAttempts = options.maxAttempts ?? 10
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InvalidOptionError('maxAttempts must be a positive integer', { option: 'maxAttempts' })
    }
    this.#maxAttempts = maxAttempts
    this.#retryDelay = Math.max(1, parseDuration(options.retryDelay ?? 100, 'retryDelay'))
    this.#maxRetryDelay = Math.max(
      this.#retryDelay,
      parseDuration(options.maxRetryDelay ?? 5000, 'maxRetryDelay'),
    )
    const spec = createClient(options)
    this.#pub = new RedisConnection(spec, 'redis-bus')
    this.#commandTimeout = spec.commandTimeout
    if (this.#pub.isCluster) this.#whenClusterReady(() => this.#attach())
    else this.#attach()
  }

  /** Runs `fn` once the Cluster client knows its masters. */
  #whenClusterReady(fn: () => void): void {
    const client = this.#pub.client
    if (client.status === 'ready') {
      fn()
      return
    }
    const onReady = (): void => {
      client.off('ready', onReady)
      this.#cancelWait = undefined
      if (!this.#closed) fn()
    }
    client.on('ready', onReady)
    this.#cancelWait = () => client.off('ready', onReady)
    if (client.status === 'wait') client.connect().catch(() => {})
  }

  /**
   * Opens the subscription connection: a duplicate of a standalone client, or, on a Cluster, a
   * plain connection to one master (classic pub/sub messages reach every node). The Cluster
   * one gives up after three failed reconnects and moves to the next master, so the bus sees
   * every disconnect and can ask for an L1 flush.
   */
  #attach(): void {
    if (this.#closed) return
    let client: AnyRedisClient
    if (this.#pub.isCluster) {
      const cluster = this.#pub.client as ClusterClientLike
      const masters = cluster.nodes('master')
      if (masters.length === 0) {
        this.#scheduleRotate()
        return
      }
      const node = masters[this.#nodeIndex++ % masters.length] as Redis
      const nodeOptions = cluster.options.redisOptions ?? {}
      client = new Redis({
        ...nodeOptions,
        host: node.options.host ?? '127.0.0.1',
        port: node.options.port ?? 6379,
        enableOfflineQueue: false,
        enableAutoPipelining: false,
        retryStrategy: (times: number) => (times > 3 ? null : Math.min(times * 100, 1000)),
      })
    } else {
      client = (this.#pub.client.duplicate as () => AnyRedisClient)()
    }
    const sub = new RedisConnection(
      { client, owned: true, commandTimeout: this.#commandTimeout },
      'redis-bus',
    )
    this.#sub = sub
    client.on('message', this.#onMessage)
    sub.onStatusChange((connected) => {
      if (this.#sub !== sub) return
      if (connected) this.#trySubscribe()
      else this.#lost()
    })
    if (this.#pub.isCluster) {
      client.on('end', () => {
        if (this.#sub !== sub || this.#closed) return
        this.#lost()
        client.off('message', this.#onMessage)
        void sub.close()
        this.#sub = undefined
        this.#scheduleRotate()
      })
    }
  }

  #scheduleRotate(): void {
    if (this.#closed || this.#rotateTimer) return
    const delay = Math.min(this.#maxRetryDelay, this.#retryDelay * 2 ** Math.min(this.#rotations++, 20))
    this.#rotateTimer = setTimeout(() => {
      this.#rotateTimer = undefined
      this.#attach()
    }, delay)
    this.#rotateTimer.unref?.()
  }

  /** `host:port` of the subscription connection, for diagnostics. */
  get subscriberNode(): string | undefined {
    const options = (this.#sub?.client as RedisClientLike | undefined)?.options
    return options ? `${options.host}:${options.port}` : undefined
  }

  /** The publishing client. */
  get client(): AnyRedisClient {
    return this.#pub.client
  }

  /**
   * Starts delivering other instances' messages to `handlers`. Resolves once subscribed, or
   * after `commandTimeout` if Redis does not answer (the bus keeps trying; never rejects).
   */
  subscribe(handlers: BusHandlers): Promise<void> {
    if (this.#closed) return Promise.resolve()
    this.#handlers = handlers
    const first = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        // Not subscribed in time: whatever is published meanwhile is missed, so the first
        // successful subscription will ask for an L1 flush.
        if (!this.#subscribed) this.#missed = true
        resolve()
      }, this.#commandTimeout)
      timer.unref?.()
      this.#firstSubscribe = () => {
        clearTimeout(timer)
        resolve()
      }
    })
    this.#trySubscribe()
    return first
  }

  readonly #onMessage = (channel: string, text: string): void => {
    if (channel !== this.channel || !this.#handlers) return
    const message = decodeBusMessage(text)
    if (!message || this.#ownIds.has(message.instanceId)) return
    this.#received++
    try {
      this.#handlers.message(message)
    } catch {}
  }

  #lost(): void {
    if (this.#closed) return
    if (this.#subscribed) {
      this.#subscribed = false
      this.#missed = true
      try {
        this.#handlers?.disconnected?.()
      } catch {}
    }
  }

  #trySubscribe(): void {
    const sub = this.#sub
    if (this.#closed || !sub || !this.#handlers || this.#subscribing || this.#subscribed) return
    const client = sub.client
    if (client.status === 'wait') client.connect().catch(() => {})
    // Not connected yet: the 'ready' status change calls us again.
    if (client.status !== 'ready') return
    this.#subscribing = true
    client.subscribe(this.channel).then(
      () => {
        this.#subscribing = false
        if (this.#closed || this.#sub !== sub) return
        this.#subscribed = true
        this.#rotations = 0
        this.#firstSubscribe?.()
        this.#firstSubscribe = undefined
        if (this.#missed) {
          this.#missed = false
          try {
            this.#handlers?.reconnected()
          } catch {}
        }
      },
      () => {
        this.#subscribing = false
        this.#missed = true
        if (this.#closed || this.#sub !== sub) return
        // Connected but SUBSCRIBE failed (for example a paused server): try again shortly.
        clearTimeout(this.#resubscribeTimer)
        this.#resubscribeTimer = setTimeout(() => this.#trySubscribe(), this.#retryDelay)
        this.#resubscribeTimer.unref?.()
      },
    )
  }

  /**
   * Publishes a message. Never rejects: a failed publish is queued for retry (at most
   * `maxQueue` messages, oldest dropped first, each tried `maxAttempts` times), and drops are
   * counted in `stats().failed`. Resolves after the first attempt.
   */
  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) {
      this.#failed++
      return
    }
    this.#ownIds.add(message.instanceId)
    const payload = encodeBusMessage(message)
    if (this.#queue.length > 0) {
      this.#enqueue({ payload, attempts: 0 })
      return
    }
    if (await this.#send(payload)) return
    this.#enqueue({ payload, attempts: 1 })
  }

  async #send(payload: string): Promise<boolean> {
    try {
      if (this.#pub.client.status !== 'ready') await this.#pub.waitReady('publish')
      await this.#pub.client.publish(this.channel, payload)
      this.#sent++
      return true
    } catch (e) {
      this.#pub.fail('publish', undefined, e)
      return false
    }
  }

  #enqueue(item: Pending): void {
    if (item.attempts >= this.#maxAttempts || this.#maxQueue === 0) {
      this.#failed++
      return
    }
    this.#queue.push(item)
    while (this.#queue.length > this.#maxQueue) {
      this.#queue.shift()
      this.#failed++
    }
    this.#schedule()
  }

  #schedule(): void {
    if (this.#retryTimer || this.#closed || this.#queue.length === 0) return
    const delay = Math.min(this.#maxRetryDelay, this.#retryDelay * 2 ** Math.min(this.#failures, 20))
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined
      void this.#drain()
    }, delay)
    this.#retryTimer.unref?.()
  }

  async #drain(): Promise<void> {
    while (!this.#closed && this.#queue.length > 0) {
      const head = this.#queue[0] as Pending
      if (await this.#send(head.payload)) {
        this.#queue.shift()
        this.#failures = 0
        continue
      }
      this.#failures++
      head.attempts++
      if (head.attempts >= this.#maxAttempts) {
        this.#queue.shift()
        this.#failed++
      }
      break
    }
    this.#schedule()
  }

  /** Counters: sent, received, failed (dropped), queued, and whether the subscription is up. */
  stats(): BusStats {
    return {
      sent: this.#sent,
      received: this.#received,
      failed: this.#failed,
      queued: this.#queue.length,
      connected: this.#subscribed && this.#sub?.connected === true,
    }
  }

  /** Unsubscribes, drops queued messages (counted as failed) and closes the connections it owns. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      clearTimeout(this.#retryTimer)
      clearTimeout(this.#resubscribeTimer)
      clearTimeout(this.#rotateTimer)
      this.#cancelWait?.()
      this.#failed += this.#queue.length
      this.#queue.length = 0
      this.#firstSubscribe?.()
      this.#sub?.client.off('message', this.#onMessage)
      await Promise.all([this.#sub?.close(), this.#pub.close()])
    })()
    return this.#closing
  }
}

/**
 * Creates the invalidation bus for `createCache({ bus })`: pub/sub by default, or a durable
 * stream with `mode: 'stream'` (see {@link RedisStreamBus}: instances catch up after a
 * disconnect instead of flushing their local tiers).
 *
 * @param options - how to connect (as for `redisStore`), `prefix` (default `'tc:'`) or
 *   `channel`/`stream`, the retry queue bounds, and for streams `retention`
 * @throws InvalidOptionError for bad options
 * @example
 * ```ts
 * const cache = createCache({
 *   namespace: 'app',
 *   tiers: [memoryStore(), redisStore({ url })],
 *   bus: redisBus({ url }),
 * })
 * const durable = redisBus({ url, mode: 'stream', retention: { maxLen: 100_000 } })
 * ```
 */
export function redisBus(options: RedisStreamBusOptions): RedisStreamBus
export function redisBus(options?: RedisBusOptions): RedisBus
export function redisBus(options: RedisBusOptions | RedisStreamBusOptions = {}): RedisBus | RedisStreamBus {
  const mode = (options as { mode?: unknown }).mode
  if (mode === 'stream') return new RedisStreamBus(options as RedisStreamBusOptions)
  if (mode !== undefined && mode !== 'pubsub') {
    throw new InvalidOptionError("mode must be 'pubsub' or 'stream'", { option: 'mode' })
  }
  return new RedisBus(options as RedisBusOptions)
}
