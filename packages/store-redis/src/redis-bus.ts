import {
  type Bus,
  type BusHandlers,
  type BusMessage,
  type BusStats,
  InvalidOptionError,
} from '@tiercache/core/store'
import { Redis } from 'ioredis'
import { decodeBusMessage } from './bus-codec.js'
import { createClient, RedisConnection } from './client.js'
import type {
  AnyRedisClient,
  ClusterClientLike,
  RedisBusOptions,
  RedisClientLike,
  RedisStreamBusOptions,
} from './options.js'
import { PublishQueue } from './publish-queue.js'
import { checkPrefix } from './redis-store.js'
import { RedisStreamBus } from './redis-stream-bus.js'

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
  readonly #ownIds = new Set<string>()
  readonly #publishes: PublishQueue
  #handlers: BusHandlers | undefined
  #subscribed = false
  #subscribing = false
  #missed = false
  #closed = false
  #closing: Promise<void> | undefined
  #resubscribeTimer: ReturnType<typeof setTimeout> | undefined
  #sent = 0
  #received = 0
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
    this.#publishes = new PublishQueue(options, (payload) => this.#send(payload))
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
    const delay = Math.min(
      this.#publishes.maxRetryDelay,
      this.#publishes.retryDelay * 2 ** Math.min(this.#rotations++, 20),
    )
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
        this.#resubscribeTimer = setTimeout(() => this.#trySubscribe(), this.#publishes.retryDelay)
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
    if (!this.#closed) this.#ownIds.add(message.instanceId)
    return this.#publishes.publish(message)
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

  /** Counters: sent, received, failed (dropped), queued, and whether the subscription is up. */
  stats(): BusStats {
    return {
      sent: this.#sent,
      received: this.#received,
      failed: this.#publishes.failed,
      queued: this.#publishes.queued,
      connected: this.#subscribed && this.#sub?.connected === true,
    }
  }

  /** Unsubscribes, drops queued messages (counted as failed) and closes the connections it owns. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      this.#publishes.close()
      clearTimeout(this.#resubscribeTimer)
      clearTimeout(this.#rotateTimer)
      this.#cancelWait?.()
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
