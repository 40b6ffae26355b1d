import {
  type Bus,
  type BusHandlers,
  type BusMessage,
  type BusStats,
  InvalidOptionError,
  parseDuration,
} from '@tiercache/core/store'
import { Redis } from 'ioredis'
import { decodeBusMessage, encodeBusMessage } from './bus-codec.js'
import { createClient, RedisConnection } from './client.js'
import type {
  AnyRedisClient,
  ClusterClientLike,
  RedisBusOptions,
  RedisClientLike,
  RedisStreamBusOptions,
} from './options.js'
import { checkPrefix } from './redis-store.js'
import { RedisStreamBus } from './redis-stream-bus.js'

interface Pending {
  readonly payload: string
  readonly namespace: string
  readonly instanceId: string
  attempts: number
  /** A `clear` standing in for dropped messages: never dropped itself, one per namespace. */
  readonly flush?: boolean
}

/**
 * The invalidation bus on Redis pub/sub: one channel (`<prefix>__bus`), a dedicated subscriber
 * connection (a duplicate of the publishing client, Cluster too), compact JSON messages with
 * keys, patterns and tags but never values. Failed publishes wait in a bounded queue and are
 * retried with capped exponential backoff; a message the queue has to drop (full, or out of
 * attempts) is replaced by one `clear` of its namespace, so the other instances flush their local
 * tiers instead of missing an invalidation. When the subscriber loses its connection and gets it
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
   * `maxQueue` messages, oldest dropped first, each tried `maxAttempts` times). Drops are counted
   * in `stats().failed`, and each namespace that lost a message gets one `clear` message queued
   * in its place (retried until it goes out or the bus closes), which makes the other instances
   * flush their local tiers of that namespace. Resolves after the first attempt.
   */
  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) {
      this.#failed++
      return
    }
    this.#ownIds.add(message.instanceId)
    const payload = encodeBusMessage(message)
    const item = { payload, namespace: message.namespace, instanceId: message.instanceId }
    if (this.#queue.length > 0) {
      this.#enqueue({ ...item, attempts: 0 })
      return
    }
    if (await this.#send(payload)) return
    this.#enqueue({ ...item, attempts: 1 })
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
      this.#drop(item)
      this.#schedule()
      return
    }
    this.#queue.push(item)
    while (this.#queue.length > this.#maxQueue) {
      const oldest = this.#queue.findIndex((p) => !p.flush)
      if (oldest < 0) break
      this.#drop(this.#queue.splice(oldest, 1)[0] as Pending)
    }
    this.#schedule()
  }

  /**
   * Counts a dropped message and queues a `clear` of its namespace in its place (once per
   * namespace), so no other instance keeps a local copy the message would have invalidated.
   */
  #drop(item: Pending): void {
    this.#failed++
    if (this.#maxQueue === 0 || this.#closed) return
    if (this.#queue.some((p) => p.flush && p.namespace === item.namespace)) return
    const clear: BusMessage = { instanceId: item.instanceId, namespace: item.namespace, type: 'clear' }
    this.#queue.push({
      payload: encodeBusMessage(clear),
      namespace: item.namespace,
      instanceId: item.instanceId,
      attempts: 0,
      flush: true,
    })
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
      if (!head.flush && head.attempts >= this.#maxAttempts) {
        this.#queue.shift()
        this.#drop(head)
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
