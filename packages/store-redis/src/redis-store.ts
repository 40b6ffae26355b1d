import {
  type Clock,
  compilePattern,
  DeserializationError,
  decodeEntry,
  encodeEntry,
  InvalidOptionError,
  NEVER,
  parseDuration,
  parsePattern,
  type RemoteEntry,
  type SetCondition,
  type Store,
  type StoreCapabilities,
  type StoreSetItem,
  type StoreStats,
  systemClock,
  ValueTooLargeError,
} from '@tiercache/core'
import { createClient, RedisConnection } from './client.js'
import { escapeRedisGlob, tokensToRedisGlob } from './glob.js'
import type { AnyRedisClient, ClusterClientLike, RedisClientLike, RedisStoreOptions } from './options.js'
import { groupBySlot } from './slot.js'

/** The default key prefix: `'tc:'`. */
export const DEFAULT_PREFIX = 'tc:'

const DEFAULT_BATCH = 1000
const CAPABILITIES: StoreCapabilities = Object.freeze({
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteByPattern: true,
  has: true,
  stats: true,
  close: true,
  conditionalSet: true,
})

/** First byte of a lease placeholder (an entry starts with its layout version, 1). */
const PLACEHOLDER = 0

/**
 * `conditionalSet`: writes `ARGV[3]` (with `PX ARGV[4]` unless empty; `ARGV[4]` = `0` deletes the
 * key instead) only if the key holds the
 * placeholder `ARGV[2]` (`ARGV[1]` = `L`) or an entry whose `createdAt` bytes are `ARGV[2]`
 * (`ARGV[1]` = `C`; an entry is a version byte 1, then `createdAt` as a big-endian double).
 */
const CONDITIONAL_SET = `local cur = redis.call('GET', KEYS[1])
if not cur then return 0 end
if ARGV[1] == 'L' then
  if cur ~= ARGV[2] then return 0 end
elseif string.byte(cur, 1) ~= 1 or string.sub(cur, 2, 9) ~= ARGV[2] then return 0 end
if ARGV[4] == '0' then redis.call('UNLINK', KEYS[1])
elseif ARGV[4] == '' then redis.call('SET', KEYS[1], ARGV[3])
else redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4]) end
return 1`

/**
 * `lease`: writes the placeholder `ARGV[1]` (expiring after `ARGV[2]` ms) unless the key holds an
 * entry; another placeholder is replaced.
 */
const LEASE = `local cur = redis.call('GET', KEYS[1])
if cur and string.byte(cur, 1) ~= 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1`

function placeholder(token: string): Buffer {
  return Buffer.concat([Buffer.of(PLACEHOLDER), Buffer.from(`L${token}`)])
}

/** The commands used on a standalone client and on each Cluster node. */
type Commands = Pick<
  RedisClientLike,
  'getBuffer' | 'mgetBuffer' | 'set' | 'unlink' | 'exists' | 'info' | 'scan' | 'eval'
>

type Resolve = (entry: RemoteEntry | undefined) => void
type Reject = (error: unknown) => void

/** Reads collected during one tick. */
interface ReadBatch {
  readonly keys: string[]
  readonly resolve: Resolve[]
  readonly reject: Reject[]
}

/** Checks a prefix option. */
export function checkPrefix(prefix: unknown): string {
  if (prefix === undefined) return DEFAULT_PREFIX
  if (typeof prefix !== 'string')
    throw new InvalidOptionError('prefix must be a string', { option: 'prefix' })
  return prefix
}

/**
 * The Redis tier: entries packed with `encodeEntry` (value bytes plus metadata in one blob)
 * under `<prefix><key>`, expiring physically with `PX` at `staleUntil`. Works on standalone,
 * Sentinel and Cluster (batches are split by hash slot; pattern deletes and clears scan every
 * master). Create it with {@link redisStore}.
 */
export class RedisStore implements Store<Uint8Array> {
  /** `'redis'` unless renamed with the `name` option. */
  readonly name: string
  /** Always `'remote'`: the store keeps serialized bytes. */
  readonly kind: 'remote' = 'remote'
  /** Always `'shared'`: every instance connected to the server sees the same data. */
  readonly scope: 'shared' = 'shared'
  /** Everything: batches, pattern deletes, `has`, stats, close, leases and conditional writes. */
  readonly capabilities: StoreCapabilities = CAPABILITIES
  /** Longest lifetime in this tier, in milliseconds, if capped. */
  readonly maxTtl: number | undefined
  /** Largest value accepted, in bytes, if limited. */
  readonly maxEntryBytes: number | undefined
  /** The key prefix. */
  readonly prefix: string
  readonly #conn: RedisConnection
  readonly #cmd: Commands
  readonly #clock: Clock
  readonly #batch: number
  #closing: Promise<void> | undefined
  /** Reads waiting for the end of this tick, sent together by #flushReads. */
  #reads: ReadBatch | undefined

  /**
   * @param options - connection, prefix and limits; see {@link RedisStoreOptions}
   */
  constructor(options: RedisStoreOptions = {}) {
    const name = options.name ?? 'redis'
    if (typeof name !== 'string' || !name) {
      throw new InvalidOptionError('name must be a non-empty string', { option: 'name' })
    }
    this.name = name
    this.prefix = checkPrefix(options.prefix)
    if (
      options.maxEntryBytes !== undefined &&
      (typeof options.maxEntryBytes !== 'number' || !(options.maxEntryBytes > 0))
    ) {
      throw new InvalidOptionError('maxEntryBytes must be a positive number of bytes', {
        option: 'maxEntryBytes',
      })
    }
    this.maxEntryBytes = options.maxEntryBytes
    this.maxTtl = options.maxTtl === undefined ? undefined : parseDuration(options.maxTtl, 'maxTtl')
    const batch = options.batchSize ?? DEFAULT_BATCH
    if (!Number.isInteger(batch) || batch < 1) {
      throw new InvalidOptionError('batchSize must be a positive integer', { option: 'batchSize' })
    }
    this.#batch = batch
    this.#clock = options.clock ?? systemClock
    this.#conn = new RedisConnection(createClient(options), name)
    this.#cmd = this.#conn.client as unknown as Commands
  }

  /** The ioredis client (shared with a `redisBus` or `redisLock` if you like). */
  get client(): AnyRedisClient {
    return this.#conn.client
  }

  async #ready(operation: string, key?: string): Promise<void> {
    if (this.#conn.client.status !== 'ready') await this.#conn.waitReady(operation, key)
  }

  #decode(key: string, bytes: Buffer | null): RemoteEntry | undefined {
    if (bytes === null || bytes[0] === PLACEHOLDER) return undefined
    let entry: RemoteEntry
    try {
      entry = decodeEntry(bytes)
    } catch (cause) {
      throw new DeserializationError(
        `${this.name}: the value under "${key.slice(0, 100)}" is not a tiercache entry`,
        {
          key,
          store: this.name,
          operation: 'get',
          cause,
        },
      )
    }
    return entry.staleUntil > this.#clock.now() ? entry : undefined
  }

  /**
   * Reads an entry. Resolves `undefined` for a missing or expired key. Reads issued in the same
   * tick are sent together at the end of it: one `GET`, or one `MGET` for many keys.
   * @throws DeserializationError when the stored bytes are not an entry; StoreError on Redis errors
   */
  get(key: string): Promise<RemoteEntry | undefined> {
    if (this.#conn.client.status !== 'ready') {
      return this.#conn.waitReady('get', key).then(() => this.get(key))
    }
    return new Promise((resolve, reject) => {
      let batch = this.#reads
      if (batch === undefined) {
        batch = this.#reads = { keys: [], resolve: [], reject: [] }
        process.nextTick(this.#flushReads)
      }
      batch.keys.push(key)
      batch.resolve.push(resolve)
      batch.reject.push(reject)
    })
  }

  /**
   * Sends the reads collected during this tick: one `GET` for a single key, else `MGET`s (one
   * per hash slot on a Cluster, at most `batchSize` keys each). Concurrent callers thus share
   * one command, one reply and one timeout instead of one each.
   */
  readonly #flushReads = (): void => {
    const batch = this.#reads
    this.#reads = undefined
    if (batch === undefined) return
    const { keys, resolve, reject } = batch
    if (keys.length === 1) {
      const key = keys[0] as string
      this.#cmd.getBuffer(this.prefix + key).then(
        (bytes) => this.#settle(key, bytes, resolve[0] as Resolve, reject[0] as Reject),
        (e: unknown) => (reject[0] as Reject)(this.#conn.fail('get', key, e)),
      )
      return
    }
    const full = keys.map((k) => this.prefix + k)
    for (const indices of this.#batches(full)) {
      this.#cmd.mgetBuffer(indices.map((i) => full[i] as string)).then(
        (values) => {
          for (let j = 0; j < indices.length; j++) {
            const i = indices[j] as number
            this.#settle(keys[i] as string, values[j] ?? null, resolve[i] as Resolve, reject[i] as Reject)
          }
        },
        (e: unknown) => {
          for (const i of indices) (reject[i] as Reject)(this.#conn.fail('get', keys[i], e))
        },
      )
    }
  }

  #settle(key: string, bytes: Buffer | null, resolve: Resolve, reject: Reject): void {
    try {
      resolve(this.#decode(key, bytes))
    } catch (e) {
      reject(e)
    }
  }

  #checkSize(key: string, entry: RemoteEntry, operation: string): void {
    const max = this.maxEntryBytes
    if (max !== undefined && entry.value.byteLength > max) {
      throw new ValueTooLargeError(entry.value.byteLength, max, { key, store: this.name, operation })
    }
  }

  /** `PX` milliseconds for an entry: `undefined` for no expiry, `0` when already expired. */
  #px(entry: RemoteEntry): number | undefined {
    if (entry.staleUntil >= NEVER) return undefined
    const ttl = entry.staleUntil - this.#clock.now()
    return ttl > 0 ? Math.ceil(ttl) : 0
  }

  /**
   * Writes an entry (`SET key blob PX ttl`; no `PX` for entries that never expire; `UNLINK` for
   * entries already expired).
   * @throws ValueTooLargeError above `maxEntryBytes` (the key keeps its entry); StoreError on Redis errors
   */
  async set(key: string, entry: RemoteEntry): Promise<void> {
    this.#checkSize(key, entry, 'set')
    await this.#ready('set', key)
    const k = this.prefix + key
    const px = this.#px(entry)
    try {
      if (px === undefined) await this.#cmd.set(k, encodeEntry(entry))
      else if (px === 0) await this.#cmd.unlink(k)
      else await this.#cmd.set(k, encodeEntry(entry), 'PX', px)
    } catch (e) {
      throw this.#conn.fail('set', key, e)
    }
  }

  /** Deletes a key (`UNLINK`); resolves whether it existed. */
  async delete(key: string): Promise<boolean> {
    await this.#ready('delete', key)
    try {
      return (await this.#cmd.unlink(this.prefix + key)) > 0
    } catch (e) {
      throw this.#conn.fail('delete', key, e)
    }
  }

  /** True when the key holds an entry (not a lease placeholder). */
  async has(key: string): Promise<boolean> {
    await this.#ready('has', key)
    try {
      const bytes = await this.#cmd.getBuffer(this.prefix + key)
      return bytes !== null && bytes[0] !== PLACEHOLDER
    } catch (e) {
      throw this.#conn.fail('has', key, e)
    }
  }

  /**
   * Writes a lease placeholder unless the key holds an entry (a placeholder is replaced), in one
   * Lua script. Every write and delete of the key, a pattern delete or a clear removes it.
   */
  async lease(key: string, token: string, ttl: number): Promise<boolean> {
    await this.#ready('lease', key)
    try {
      const px = String(Math.max(1, Math.ceil(ttl)))
      return (await this.#cmd.eval(LEASE, 1, this.prefix + key, placeholder(token), px)) === 1
    } catch (e) {
      throw this.#conn.fail('lease', key, e)
    }
  }

  /**
   * Writes an entry only if the key still holds the placeholder of `condition.lease`, or an
   * entry created at `condition.createdAt` (one Lua script, atomic). An entry already past its
   * `staleUntil` deletes the key instead, under the same condition (a lease is released that way).
   * @throws ValueTooLargeError above `maxEntryBytes`; StoreError on Redis errors
   */
  async conditionalSet(key: string, entry: RemoteEntry, condition: SetCondition): Promise<boolean> {
    this.#checkSize(key, entry, 'conditionalSet')
    const px = this.#px(entry)
    await this.#ready('conditionalSet', key)
    let expected: Buffer
    if ('lease' in condition) expected = placeholder(condition.lease)
    else {
      expected = Buffer.allocUnsafe(8)
      expected.writeDoubleBE(condition.createdAt, 0)
    }
    try {
      const r = await this.#cmd.eval(
        CONDITIONAL_SET,
        1,
        this.prefix + key,
        'lease' in condition ? 'L' : 'C',
        expected,
        px === 0 ? '' : encodeEntry(entry),
        px === undefined ? '' : String(px),
      )
      return r === 1
    } catch (e) {
      throw this.#conn.fail('conditionalSet', key, e)
    }
  }

  /**
   * Reads many keys with `MGET` (on a Cluster one `MGET` per hash slot, auto-pipelined per
   * node). A slot whose bytes are not an entry reads as `undefined`.
   */
  async getMany(keys: readonly string[]): Promise<(RemoteEntry | undefined)[]> {
    if (keys.length === 0) return []
    await this.#ready('getMany', keys[0])
    const full = keys.map((k) => this.prefix + k)
    const out = new Array<RemoteEntry | undefined>(keys.length)
    const read = async (indices: readonly number[]): Promise<void> => {
      const values = await this.#cmd.mgetBuffer(indices.map((i) => full[i] as string))
      for (let j = 0; j < indices.length; j++) {
        const i = indices[j] as number
        try {
          out[i] = this.#decode(keys[i] as string, values[j] ?? null)
        } catch {
          out[i] = undefined
        }
      }
    }
    try {
      await Promise.all(this.#batches(full).map(read))
    } catch (e) {
      throw this.#conn.fail('getMany', keys[0], e)
    }
    return out
  }

  /** Index groups for multi-key commands: by hash slot on a Cluster, chunks of `batchSize` otherwise. */
  #batches(full: readonly string[]): number[][] {
    const groups = this.#conn.isCluster ? groupBySlot(full) : [full.map((_, i) => i)]
    const out: number[][] = []
    for (const g of groups) {
      for (let i = 0; i < g.length; i += this.#batch) out.push(g.slice(i, i + this.#batch))
    }
    return out
  }

  /**
   * Writes many entries in one pipeline (on a Cluster: auto-pipelined per node). Every entry is
   * checked against `maxEntryBytes` first; if one is too large nothing is written.
   */
  async setMany(items: readonly StoreSetItem<Uint8Array>[]): Promise<void> {
    if (items.length === 0) return
    for (const [key, entry] of items) this.#checkSize(key, entry, 'setMany')
    await this.#ready('setMany', items[0]?.[0])
    if (this.#conn.isCluster) {
      try {
        await Promise.all(
          items.map(([key, entry]) => {
            const px = this.#px(entry)
            const k = this.prefix + key
            if (px === undefined) return this.#cmd.set(k, encodeEntry(entry))
            if (px === 0) return this.#cmd.unlink(k)
            return this.#cmd.set(k, encodeEntry(entry), 'PX', px)
          }),
        )
      } catch (e) {
        throw this.#conn.fail('setMany', items[0]?.[0], e)
      }
      return
    }
    const pipeline = (this.#conn.client as RedisClientLike).pipeline()
    for (const [key, entry] of items) {
      const px = this.#px(entry)
      const k = this.prefix + key
      if (px === undefined) pipeline.set(k, encodeEntry(entry))
      else if (px === 0) pipeline.unlink(k)
      else pipeline.set(k, encodeEntry(entry), 'PX', px)
    }
    let results: [Error | null, unknown][] | null
    try {
      results = await pipeline.exec()
    } catch (e) {
      throw this.#conn.fail('setMany', items[0]?.[0], e)
    }
    const failed = results?.findIndex(([err]) => err)
    if (failed !== undefined && failed >= 0) {
      throw this.#conn.fail('setMany', items[failed]?.[0], results?.[failed]?.[0])
    }
  }

  /** Deletes many keys with `UNLINK` (one per hash slot on a Cluster); resolves how many existed. */
  async deleteMany(keys: readonly string[]): Promise<number> {
    if (keys.length === 0) return 0
    await this.#ready('deleteMany', keys[0])
    try {
      return await this.#unlink(keys.map((k) => this.prefix + k))
    } catch (e) {
      throw this.#conn.fail('deleteMany', keys[0], e)
    }
  }

  async #unlink(full: readonly string[]): Promise<number> {
    const counts = await Promise.all(
      this.#batches(full).map((indices) => this.#cmd.unlink(indices.map((i) => full[i] as string))),
    )
    let n = 0
    for (const c of counts) n += c
    return n
  }

  /** Scans every master with `MATCH glob`, and unlinks the keys `keep` accepts, batch by batch. */
  async #scanDelete(operation: string, glob: string, keep: (fullKey: string) => boolean): Promise<number> {
    await this.#ready(operation)
    const nodes: Commands[] = this.#conn.isCluster
      ? ((this.#conn.client as ClusterClientLike).nodes('master') as unknown as Commands[])
      : [this.#cmd]
    const count = String(this.#batch)
    let deleted = 0
    try {
      await Promise.all(
        nodes.map(async (node) => {
          let cursor = '0'
          do {
            const [next, found] = await node.scan(cursor, 'MATCH', glob, 'COUNT', count)
            cursor = next
            const victims = found.filter(keep)
            if (victims.length > 0) {
              const n = await this.#unlink(victims)
              deleted += n
            }
          } while (cursor !== '0')
        }),
      )
    } catch (e) {
      throw this.#conn.fail(operation, undefined, e)
    }
    return deleted
  }

  /**
   * Deletes every key matching a glob (`*`, `?`, `\` escapes) with `SCAN` + `UNLINK` in
   * batches, on every master of a Cluster. Never `KEYS`. Resolves how many keys were deleted.
   * @throws InvalidPatternError for a malformed pattern
   */
  async deleteByPattern(pattern: string): Promise<number> {
    const tokens = parsePattern(pattern)
    const matches = compilePattern(tokens)
    const prefix = this.prefix
    const glob = escapeRedisGlob(prefix) + tokensToRedisGlob(tokens)
    return this.#scanDelete(
      'deleteByPattern',
      glob,
      (k) => k.startsWith(prefix) && matches(k.slice(prefix.length)),
    )
  }

  /**
   * Deletes every key of a namespace (`<prefix><namespace>:*`), or every key under the prefix
   * for `''`, with `SCAN` + `UNLINK` on every master. Never `FLUSHDB`.
   */
  async clear(namespace: string): Promise<void> {
    const start = namespace ? `${this.prefix}${namespace}:` : this.prefix
    await this.#scanDelete('clear', `${escapeRedisGlob(start)}*`, (k) => k.startsWith(start))
  }

  /**
   * Connection state, errors since creation, and the server's `used_memory` (`INFO memory`,
   * summed over the masters of a Cluster) when it answers.
   */
  async stats(): Promise<StoreStats> {
    const connected = this.#conn.connected
    let usedMemory: number | undefined
    if (connected) {
      try {
        const nodes: Commands[] = this.#conn.isCluster
          ? ((this.#conn.client as ClusterClientLike).nodes('master') as unknown as Commands[])
          : [this.#cmd]
        const infos = await Promise.all(nodes.map((n) => n.info('memory')))
        usedMemory = 0
        for (const info of infos) {
          const m = /(?:^|\n)used_memory:(\d+)/.exec(info)
          if (m) usedMemory += Number(m[1])
        }
      } catch (e) {
        this.#conn.fail('stats', undefined, e)
        usedMemory = undefined
      }
    }
    return {
      connected,
      errors: this.#conn.errors,
      ...(usedMemory !== undefined ? { usedMemory } : {}),
    }
  }

  /** Subscribes to connection changes (`ready` → true, `close`/`end` → false). */
  onStatusChange(listener: (connected: boolean) => void): () => void {
    return this.#conn.onStatusChange(listener)
  }

  /** Closes the client when the store owns it (`QUIT`); a client you passed stays open. */
  close(): Promise<void> {
    this.#closing ??= this.#conn.close()
    return this.#closing
  }
}

/**
 * Creates the Redis tier.
 *
 * @param options - how to connect (`url`, `client`, `cluster`, `sentinel` or `redisOptions`),
 *   the key `prefix` (default `'tc:'`), `commandTimeout` (default 1000 ms) and limits
 * @throws InvalidOptionError for bad options
 * @example
 * ```ts
 * import { createCache } from '@tiercache/core'
 * import { memoryStore } from '@tiercache/store-memory'
 * import { redisStore } from '@tiercache/store-redis'
 *
 * const cache = createCache({
 *   namespace: 'app',
 *   tiers: [memoryStore({ maxBytes: 50 * 2 ** 20 }), redisStore({ url: 'redis://127.0.0.1:6379', prefix: 'myapp:' })],
 * })
 * ```
 */
export function redisStore(options: RedisStoreOptions = {}): RedisStore {
  return new RedisStore(options)
}
