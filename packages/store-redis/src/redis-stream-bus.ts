import {
  type Bus,
  type BusHandlers,
  type BusMessage,
  type BusStats,
  InvalidOptionError,
  parseDuration,
} from '@tiercache/core/store'
import { decodeBusMessage } from './bus-codec.js'
import { createClient, RedisConnection } from './client.js'
import type { AnyRedisClient, RedisStreamBusOptions, StreamRetention } from './options.js'
import { PublishQueue } from './publish-queue.js'
import { checkPrefix } from './redis-store.js'
import { runAppend, type StreamEntry, StreamReader } from './stream-log.js'

/** Default `retention.maxLen`: entries kept in the stream (approximately, `MAXLEN ~`). */
export const DEFAULT_STREAM_MAX_LEN = 100_000

/**
 * The stream key (and announce channel) for a prefix: `{<prefix>bus}`. The braces make it a
 * Cluster hash tag, so the stream and the relay positions beside it (`{<prefix>bus}:relay:*`)
 * live in one slot, `keySlot('<prefix>bus')` (15394 for the default `tc:`).
 *
 * @param prefix - the caches' key prefix
 */
export function streamKey(prefix: string): string {
  if (prefix.includes('{') || prefix.includes('}')) {
    throw new InvalidOptionError('a prefix with { or } needs an explicit stream name', { option: 'stream' })
  }
  return `{${prefix}bus}`
}

/** Validates `retention`; returns `maxLen`. */
export function checkRetention(retention: StreamRetention | undefined): number {
  const maxLen = retention?.maxLen ?? DEFAULT_STREAM_MAX_LEN
  if (!Number.isInteger(maxLen) || maxLen < 1) {
    throw new InvalidOptionError('retention.maxLen must be a positive integer', {
      option: 'retention.maxLen',
    })
  }
  return maxLen
}

/** Validates a positive integer option. */
export function positiveInt(value: number | undefined, fallback: number, option: string): number {
  const n = value ?? fallback
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidOptionError(`${option} must be a positive integer`, { option })
  }
  return n
}

/** A dedicated subscriber connection next to `pub` (a duplicate, Cluster included). */
export function subscriberFor(pub: RedisConnection, name: string): RedisConnection {
  const client = (pub.client.duplicate as () => AnyRedisClient)()
  return new RedisConnection({ client, owned: true, commandTimeout: pub.commandTimeout }, name)
}

/**
 * The invalidation bus on a Redis stream: a durable, bounded log of invalidations. Each publish
 * appends to the stream `{<prefix>bus}` (`XADD … MAXLEN ~ maxLen`) and announces the new entry on
 * a channel of the same name, in one script. Each instance applies announced entries in order
 * and remembers the last id it applied; after a disconnect (or any break in the chain of
 * announcements) it reads what it missed with `XRANGE` and applies it, so its local tiers stay.
 * Only when its last id has been trimmed out of the stream (the gap exceeded the retention) does
 * it call `handlers.reconnected()`, and the engine flushes its local tiers as with pub/sub.
 * Create it with `redisBus({ mode: 'stream' })`.
 */
export class RedisStreamBus implements Bus {
  /** The stream key, also the announce channel. */
  readonly stream: string
  /** Approximate number of entries the stream keeps. */
  readonly maxLen: number
  readonly #pub: RedisConnection
  readonly #sub: RedisConnection
  readonly #batch: number
  readonly #pollInterval: number
  readonly #ownIds = new Set<string>()
  readonly #publishes: PublishQueue
  #reader: StreamReader | undefined
  #handlers: BusHandlers | undefined
  #closed = false
  #closing: Promise<void> | undefined
  #sent = 0
  #received = 0
  #gaps = 0
  #connected = false

  /** @param options - see {@link RedisStreamBusOptions} */
  constructor(options: RedisStreamBusOptions) {
    const prefix = checkPrefix(options.prefix)
    const stream = options.stream ?? streamKey(prefix)
    if (typeof stream !== 'string' || !stream) {
      throw new InvalidOptionError('stream must be a non-empty string', { option: 'stream' })
    }
    this.stream = stream
    this.maxLen = checkRetention(options.retention)
    this.#batch = positiveInt(options.batch, 1000, 'batch')
    this.#pollInterval = Math.max(1, parseDuration(options.pollInterval ?? 1000, 'pollInterval'))
    this.#publishes = new PublishQueue(options, (payload) => this.#send(payload))
    this.#pub = new RedisConnection(createClient(options), 'redis-bus')
    this.#sub = subscriberFor(this.#pub, 'redis-bus')
  }

  /** The publishing client. */
  get client(): AnyRedisClient {
    return this.#pub.client
  }

  /** Last stream id this instance applied (`undefined` before it started reading). */
  get position(): string | undefined {
    return this.#reader?.position
  }

  /**
   * Starts reading the stream from its current end. Resolves once subscribed and positioned, or
   * after `commandTimeout` if Redis does not answer (the bus keeps trying; never rejects).
   */
  subscribe(handlers: BusHandlers): Promise<void> {
    if (this.#closed || this.#reader) return Promise.resolve()
    this.#handlers = handlers
    const reader = new StreamReader({
      source: this.#pub,
      subscriber: this.#sub,
      key: this.stream,
      channel: this.stream,
      batch: this.#batch,
      pollInterval: this.#pollInterval,
      start: async () => undefined,
      apply: (entry) => this.#apply(entry),
      syncApply: true,
      gap: () => this.#gap(),
      status: (connected) => {
        if (connected === this.#connected) return
        this.#connected = connected
        if (!connected) {
          try {
            this.#handlers?.disconnected?.()
          } catch {}
        }
      },
    })
    this.#reader = reader
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#pub.commandTimeout)
      timer.unref?.()
      void reader.ready.then(() => {
        clearTimeout(timer)
        resolve()
      })
    })
  }

  #apply(entry: StreamEntry): void {
    if (entry.gap) {
      this.#gap()
      return
    }
    const message = decodeBusMessage(entry.message)
    if (!message || this.#ownIds.has(message.instanceId) || !this.#handlers) return
    this.#received++
    try {
      this.#handlers.message(message)
    } catch {}
  }

  #gap(): void {
    this.#gaps++
    try {
      this.#handlers?.reconnected()
    } catch {}
  }

  /**
   * Appends a message to the stream. Never rejects: a failed append is queued for retry (at most
   * `maxQueue` messages, oldest dropped first, each tried `maxAttempts` times). Drops are counted
   * in `stats().failed`, and each namespace that lost a message gets one `clear` appended in its
   * place (retried until it goes out or the bus closes), as with the pub/sub bus. Resolves after
   * the first attempt.
   */
  async publish(message: BusMessage): Promise<void> {
    if (!this.#closed) this.#ownIds.add(message.instanceId)
    return this.#publishes.publish(message)
  }

  async #send(payload: string): Promise<boolean> {
    try {
      if (this.#pub.client.status !== 'ready') await this.#pub.waitReady('publish')
      await runAppend(this.#pub.client, [this.stream], [this.stream, this.maxLen, payload, '', ''])
      this.#sent++
      return true
    } catch (e) {
      this.#pub.fail('publish', undefined, e)
      return false
    }
  }

  /**
   * Counters: sent, received, failed (dropped), queued, whether the subscription is up, and
   * `gaps` (times the last applied id had been trimmed, each one a local flush).
   */
  stats(): BusStats & { readonly gaps: number; readonly position: string | undefined } {
    return {
      sent: this.#sent,
      received: this.#received,
      failed: this.#publishes.failed,
      queued: this.#publishes.queued,
      connected: this.#connected && this.#sub.connected,
      gaps: this.#gaps,
      position: this.#reader?.position,
    }
  }

  /** Stops reading, drops queued messages (counted as failed) and closes the connections it owns. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      this.#publishes.close()
      if (this.#reader) await this.#reader.close()
      else await this.#sub.close()
      await this.#pub.close()
    })()
    return this.#closing
  }
}
