import { type Cache, createCache, InvalidOptionError, parseDuration, type Serializer } from '@tiercache/core'
import { decodeBusMessage, encodeBusMessage } from './bus-codec.js'
import { createClient, RedisConnection } from './client.js'
import type { AnyRedisClient, RegionRelayOptions, RegionSource } from './options.js'
import { checkPrefix, redisStore } from './redis-store.js'
import { checkRetention, positiveInt, streamKey, subscriberFor } from './redis-stream-bus.js'
import { runAppend, type StreamEntry, StreamReader } from './stream-log.js'

const REGION = /^[A-Za-z0-9_.-]{1,64}$/

/** What a relay reports per source region. */
export interface RelaySourceStats {
  /** The source region. */
  readonly region: string
  /** Last source id copied or skipped (persisted in the destination as the copy position). */
  readonly position: string | undefined
  /** Entries that originated in the source and were applied here. */
  readonly copied: number
  /**
   * Entries skipped: loaded values (not changes), entries relayed into the source from a third
   * region, entries another relay of this pair already copied.
   */
  readonly skipped: number
  /** Times the position had been trimmed out of the source stream (each one a destination clear). */
  readonly gaps: number
  /** Entries read back from the source stream (after a reconnect or a missed announcement), not announced. */
  readonly replayed: number
  /** Errors met (the relay retries from its position). */
  readonly errors: number
  /** Whether the subscription to the source is up. */
  readonly connected: boolean
}

interface Source {
  readonly region: string
  readonly conn: RedisConnection
  readonly reader: StreamReader
  copied: number
  skipped: number
}

/**
 * Copies invalidations (never values) from other regions' streams into this region. For each
 * source region it follows the source's stream (announcements for latency, `XRANGE` to catch
 * up) and, for each entry that originated there, in order:
 *
 * 1. applies it to this region's Redis L2 as a mutation of that namespace (a `set` from another
 *    region deletes the key here: each region loads values from its own source of truth);
 * 2. appends it to this region's stream, tagged with its origin, and moves its copy position,
 *    in one script: the entry is appended only if the position is older than its source id, so
 *    a restarted relay, or two relays of the same pair, never copy an entry twice;
 *
 * and the region's instances drop their local copies when they read it. Entries that carry an
 * origin (copied into the source from a third region) are skipped: regions form a full mesh and
 * each entry travels one hop, so nothing loops. When the copy position has been trimmed out of
 * the source stream, invalidations were lost: the relay clears this region's cache (every key
 * under the prefix) and appends a gap marker, on which every instance flushes its local tiers.
 * Create it with {@link regionRelay}.
 */
export class RegionRelay {
  /** This (destination) region. */
  readonly region: string
  /** The destination stream. */
  readonly stream: string
  readonly #dest: RedisConnection
  readonly #prefix: string
  readonly #maxLen: number
  readonly #serializer: Serializer | undefined
  readonly #caches = new Map<string, Cache>()
  readonly #sources: Source[] = []
  #closed = false
  #closing: Promise<void> | undefined
  /** Resolves when every source has been subscribed and caught up once. */
  readonly ready: Promise<void>

  /** @param options - see {@link RegionRelayOptions} */
  constructor(options: RegionRelayOptions) {
    if (typeof options?.region !== 'string' || !REGION.test(options.region)) {
      throw new InvalidOptionError('region must be 1-64 characters of A-Z a-z 0-9 _ . -', {
        option: 'region',
      })
    }
    this.region = options.region
    this.#prefix = checkPrefix(options.prefix)
    this.stream = options.stream ?? streamKey(this.#prefix)
    this.#maxLen = checkRetention(options.retention)
    this.#serializer = options.serializer
    const batch = positiveInt(options.batch, 1000, 'batch')
    const pollInterval = Math.max(1, parseDuration(options.pollInterval ?? 1000, 'pollInterval'))
    if (!Array.isArray(options.from) || options.from.length === 0) {
      throw new InvalidOptionError('from must list at least one source region', { option: 'from' })
    }
    const seen = new Set<string>([this.region])
    for (const s of options.from) {
      if (typeof s?.region !== 'string' || !REGION.test(s.region) || seen.has(s.region)) {
        throw new InvalidOptionError(`from: bad or repeated region ${JSON.stringify(s?.region)}`, {
          option: 'from',
        })
      }
      seen.add(s.region)
    }
    this.#dest = new RedisConnection(createClient(options.to), 'region-relay')
    for (const s of options.from) this.#sources.push(this.#source(s, batch, pollInterval))
    this.ready = Promise.all(this.#sources.map((s) => s.reader.ready)).then(() => {})
  }

  /** The destination's Redis client. */
  get client(): AnyRedisClient {
    return this.#dest.client
  }

  #positionKey(region: string): string {
    return `${this.stream}:relay:${region}`
  }

  #source(options: RegionSource, batch: number, pollInterval: number): Source {
    const { region, stream, ...connection } = options
    const conn = new RedisConnection(createClient(connection), 'region-relay')
    const key = stream ?? this.stream
    const positionKey = this.#positionKey(region)
    const source: Source = {
      region,
      conn,
      copied: 0,
      skipped: 0,
      reader: new StreamReader({
        source: conn,
        subscriber: subscriberFor(conn, 'region-relay'),
        key,
        channel: key,
        batch,
        pollInterval,
        start: async () => {
          const pos = await this.#destCall('GET', positionKey)
          return typeof pos === 'string' && pos ? pos : undefined
        },
        apply: (entry) => this.#copy(source, positionKey, entry),
        applyBatch: (entries) => this.#copyBatch(source, positionKey, entries),
        gap: (_from, to) => this.#gap(source, positionKey, to),
        status: () => {},
      }),
    }
    return source
  }

  #destCall(...args: string[]): Promise<unknown> {
    return (this.#dest.client as unknown as { call(...a: string[]): Promise<unknown> }).call(...args)
  }

  #cache(namespace: string): Cache {
    let cache = this.#caches.get(namespace)
    if (cache === undefined) {
      cache = createCache({
        namespace,
        tiers: [redisStore({ client: this.#dest.client as never, prefix: this.#prefix })],
        strict: true,
        ...(this.#serializer !== undefined ? { serializer: this.#serializer } : {}),
      })
      this.#caches.set(namespace, cache)
    }
    return cache
  }

  async #copy(source: Source, positionKey: string, entry: StreamEntry): Promise<void> {
    const text = await this.#invalidate(source, entry)
    if (text !== undefined) await this.#append(source, positionKey, entry.id, text)
  }

  /**
   * A catch-up batch: invalidations are deletes, which commute, so the batch's L2 work runs
   * concurrently (64 at a time); then the appends go out pipelined on one connection, in
   * stream order (each still conditional on the position).
   */
  async #copyBatch(source: Source, positionKey: string, entries: readonly StreamEntry[]): Promise<void> {
    const texts: (string | undefined)[] = new Array(entries.length)
    for (let i = 0; i < entries.length; i += 64) {
      const chunk = entries.slice(i, i + 64)
      const done = await Promise.all(chunk.map((e) => this.#invalidate(source, e)))
      done.forEach((t, j) => {
        texts[i + j] = t
      })
    }
    await Promise.all(
      entries.map((e, i) => {
        const text = texts[i]
        return text === undefined ? undefined : this.#append(source, positionKey, e.id, text)
      }),
    )
  }

  /**
   * Applies an entry to this region's L2; returns the message to append here, or `undefined`
   * for an entry that is not copied.
   */
  async #invalidate(source: Source, entry: StreamEntry): Promise<string | undefined> {
    if (entry.origin !== '' || entry.gap) {
      // Copied into the source from a third region (this region gets it from there directly),
      // or a gap marker of the source's own relays (their clear reached only the source).
      source.skipped++
      return undefined
    }
    const message = decodeBusMessage(entry.message)
    if (message?.load === true) {
      // A value loaded from the source region's own source of truth: nothing changed there.
      source.skipped++
      return undefined
    }
    if (message !== undefined) {
      const cache = this.#cache(message.namespace)
      switch (message.type) {
        case 'set':
        case 'delete':
          if (message.keys && message.keys.length > 0) await cache.deleteMany(message.keys)
          break
        case 'pattern':
          await cache.deleteByPattern(message.pattern ?? '')
          break
        case 'tags':
          await cache.invalidateTags(message.tags ?? [])
          break
        case 'clear': {
          let view = cache
          for (const part of (message.prefix ?? '').split(':')) if (part) view = view.namespace(part)
          await view.clear()
          break
        }
      }
    }
    // Instances here compare tagged entries against this region's tag record, written just now.
    return message?.type === 'tags' ? encodeBusMessage({ ...message, at: Date.now() }) : entry.message
  }

  async #append(source: Source, positionKey: string, sourceId: string, text: string): Promise<void> {
    const id = await runAppend(
      this.#dest.client,
      [this.stream, positionKey],
      [this.stream, this.#maxLen, text, source.region, '', sourceId, ''],
    )
    if (id === null) source.skipped++
    else source.copied++
  }

  async #gap(source: Source, positionKey: string, to: string): Promise<void> {
    // Invalidations from the source were lost: nothing in this region's cache is known current.
    const store = redisStore({ client: this.#dest.client as never, prefix: this.#prefix })
    await store.clear('')
    await runAppend(
      this.#dest.client,
      [this.stream, positionKey],
      [this.stream, this.#maxLen, '', source.region, '1', to, '1'],
    )
  }

  /** Counters per source region. */
  stats(): RelaySourceStats[] {
    return this.#sources.map((s) => ({
      region: s.region,
      position: s.reader.position,
      copied: s.copied,
      skipped: s.skipped,
      gaps: s.reader.gaps,
      replayed: s.reader.replayed,
      errors: s.reader.errors,
      connected: s.reader.subscribed,
    }))
  }

  /** Stops copying (the entry in progress finishes) and closes every connection. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true
      await Promise.all(this.#sources.map((s) => s.reader.close()))
      await Promise.all([...this.#caches.values()].map((c) => c.close()))
      await Promise.all([...this.#sources.map((s) => s.conn.close()), this.#dest.close()])
    })()
    return this.#closing
  }

  /** Whether {@link RegionRelay.close} was called. */
  get closed(): boolean {
    return this.#closed
  }
}

/**
 * Creates a relay that copies invalidations from other regions into this one. Run one per
 * region (more are safe: copies are conditional on the position), next to the region's Redis;
 * or run `tiercache-relay` from the `tiercache` package.
 *
 * @param options - this region's name and Redis (`to`), the source regions (`from`), `prefix`
 *   (default `'tc:'`, as the caches' `redisStore`), `retention` of this region's stream
 * @throws InvalidOptionError for bad options
 * @example
 * ```ts
 * const relay = regionRelay({
 *   region: 'eu',
 *   to: { url: 'redis://eu-cache:6379' },
 *   from: [{ region: 'us', url: 'redis://us-cache:6379' }],
 * })
 * await relay.ready
 * // ... on shutdown
 * await relay.close()
 * ```
 */
export function regionRelay(options: RegionRelayOptions): RegionRelay {
  return new RegionRelay(options)
}
