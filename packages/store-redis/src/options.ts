import type { Clock, Duration, Serializer } from '@tiercache/core/store'
import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'

/** The commands and members the package uses on both client kinds. */
type SharedMembers =
  | 'getBuffer'
  | 'mgetBuffer'
  | 'set'
  | 'unlink'
  | 'exists'
  | 'eval'
  | 'evalsha'
  | 'publish'
  | 'subscribe'
  | 'unsubscribe'
  | 'info'
  | 'quit'
  | 'disconnect'
  | 'connect'
  | 'on'
  | 'off'
  | 'status'
  | 'isCluster'

/**
 * A standalone (or Sentinel) ioredis client, typed by the members this package uses, so any
 * compatible copy of ioredis fits.
 */
export type RedisClientLike = Pick<Redis, SharedMembers | 'scan' | 'pipeline' | 'duplicate' | 'options'>

/** An ioredis `Cluster`, typed by the members this package uses. */
export type ClusterClientLike = Pick<Cluster, SharedMembers | 'nodes' | 'duplicate' | 'options'>

/** Either client kind: what `client` options accept. */
export type AnyRedisClient = RedisClientLike | ClusterClientLike

/** TLS settings. PEM strings or buffers; see Node's `tls.connect` options. */
export interface RedisTlsOptions {
  /** CA certificate(s) to trust instead of the system store. */
  readonly ca?: string | Buffer | readonly (string | Buffer)[]
  /** Client certificate, for servers that require one (`tls-auth-clients yes`). */
  readonly cert?: string | Buffer
  /** Client private key. */
  readonly key?: string | Buffer
  /**
   * Reject servers whose certificate does not verify. Turn off only for local experiments.
   * @default true
   */
  readonly rejectUnauthorized?: boolean
  /** Server name for SNI and certificate checks. @default the host name */
  readonly servername?: string
}

/** A Cluster to connect to. */
export interface RedisClusterConnection {
  /** Some nodes of the cluster: `'host:port'` strings or `{ host, port }` objects. */
  readonly nodes: readonly (string | { readonly host: string; readonly port: number })[]
  /** Extra ioredis `Cluster` options (`scaleReads`, `natMap`, `dnsLookup`, …), applied last. */
  readonly options?: ClusterOptions
}

/** A Sentinel-managed master to connect to. */
export interface RedisSentinelConnection {
  /** Some Sentinels: `{ host, port }`. */
  readonly sentinels: readonly { readonly host: string; readonly port: number }[]
  /** The master's name in Sentinel (`sentinel monitor <name> …`). */
  readonly name: string
  /** ACL user for the Sentinels themselves (not the master). */
  readonly sentinelUsername?: string
  /** Password for the Sentinels themselves (not the master). */
  readonly sentinelPassword?: string
}

/**
 * How to reach Redis. Give exactly one of `url`, `client`, `cluster`, `sentinel` or
 * `redisOptions` (the last alone means "these ioredis options"; with nothing at all the store
 * connects to `127.0.0.1:6379`). `tls`, `username`, `password`, `db` and the timeouts apply to
 * connections the package creates and override what the URL says.
 */
export interface RedisConnectionOptions {
  /** `redis://[user:password@]host[:port][/db]` or `rediss://…` (TLS). */
  readonly url?: string
  /**
   * An existing ioredis `Redis` or `Cluster` client. It is used as is (its own timeouts and
   * offline queue apply) and never closed unless `owned: true`.
   */
  readonly client?: AnyRedisClient
  /** Connect to a Redis Cluster. */
  readonly cluster?: RedisClusterConnection
  /** Connect to the master of a Sentinel group. */
  readonly sentinel?: RedisSentinelConnection
  /**
   * ioredis options (`host`, `port`, `path`, `family`, …) for connections the package creates;
   * for a Cluster, the per-node options. The named options of this object win over them.
   */
  readonly redisOptions?: RedisOptions
  /** TLS: `true` for the system CAs, or CA / client certificate / `rejectUnauthorized`. @default false (true for `rediss://`) */
  readonly tls?: boolean | RedisTlsOptions
  /** ACL user name. @default the URL's, else the `default` user */
  readonly username?: string
  /** Password (ACL or `requirepass`). @default the URL's, else none */
  readonly password?: string
  /** Database index (standalone and Sentinel only). @default the URL's, else 0 */
  readonly db?: number
  /**
   * Longest time one Redis command may take before it fails with `StoreTimeoutError`
   * (`E_STORE_TIMEOUT`), as a duration (milliseconds or `'1s'`). Also the longest a call waits
   * for a connection that is still being established.
   * @default 1000 (milliseconds)
   */
  readonly commandTimeout?: Duration
  /** Longest time to establish a TCP (and TLS) connection, in milliseconds or a duration string. @default 5000 */
  readonly connectTimeout?: Duration
  /**
   * Queue commands while disconnected instead of failing them at once. Off by default so a
   * down Redis fails fast instead of making callers wait.
   * @default false
   */
  readonly enableOfflineQueue?: boolean
  /**
   * How many times ioredis retries a command that was in flight when the connection dropped.
   * @default 1
   */
  readonly maxRetriesPerRequest?: number
  /**
   * Whether closing the store (bus, lock) closes the client. Clients the package creates are
   * always owned; a `client` you pass is owned only when this is `true`.
   * @default false for a `client` you pass, true otherwise
   */
  readonly owned?: boolean
}

/** Options for {@link redisStore}. */
export interface RedisStoreOptions extends RedisConnectionOptions {
  /**
   * Prepended to every key: an entry for key `app:users:1` lives in Redis under
   * `<prefix>app:users:1`. `clear('')` deletes every key under the prefix, so give each
   * application its own. An empty prefix is allowed but makes `clear('')` scan the whole
   * database.
   * @default 'tc:'
   */
  readonly prefix?: string
  /**
   * Largest entry value, in bytes, the store accepts; larger ones are refused with
   * `ValueTooLargeError` and the key keeps its previous entry.
   * @default no limit (Redis itself refuses values above 512 MiB)
   */
  readonly maxEntryBytes?: number
  /**
   * Longest lifetime an entry may have in this tier, as a duration. The engine caps writes and
   * backfills to it.
   * @default no cap
   */
  readonly maxTtl?: Duration
  /**
   * How many keys one `SCAN` step asks for (`COUNT`), and how many keys one `MGET`/`UNLINK`
   * carries at most.
   * @default 1000
   */
  readonly batchSize?: number
  /**
   * Time source (epoch ms) for computing `PX` from `staleUntil` and for the expiry check on
   * reads. Inject the engine's clock in tests.
   * @default the core's system clock
   */
  readonly clock?: Clock
  /**
   * Name of the tier in stats and metrics (the level becomes `l2_<name>`).
   * @default 'redis'
   */
  readonly name?: string
}

/** Options for {@link redisBus}. */
export interface RedisBusOptions extends RedisConnectionOptions {
  /** `'pubsub'` (this bus) or `'stream'` (see {@link RedisStreamBusOptions}). @default 'pubsub' */
  readonly mode?: 'pubsub'
  /**
   * Key prefix of the caches on this bus; the channel is `<prefix>__bus` unless `channel` is
   * given. Use the same value as the `redisStore` of the caches that share L2.
   * @default 'tc:'
   */
  readonly prefix?: string
  /** Pub/sub channel name. @default `<prefix>__bus` */
  readonly channel?: string
  /**
   * Most messages kept for retry after a failed publish; beyond it the oldest are dropped and
   * counted in `stats().failed`, and one `clear` of each namespace that lost a message is queued
   * in their place (the other instances flush their local tiers of it). `0` keeps nothing: a
   * failed publish is dropped at once, with no `clear`.
   * @default 1000
   */
  readonly maxQueue?: number
  /**
   * First retry delay after a failed publish, in milliseconds (or a duration string); it
   * doubles after each consecutive failure up to `maxRetryDelay`.
   * @default 100
   */
  readonly retryDelay?: Duration
  /** Longest delay between retries, in milliseconds (or a duration string). @default 5000 */
  readonly maxRetryDelay?: Duration
  /**
   * Publish attempts per message before it is dropped, counted as failed and replaced by a
   * `clear` of its namespace (which is retried until it goes out).
   * @default 10
   */
  readonly maxAttempts?: number
}

/** Options for {@link redisLock}. */
export interface RedisLockOptions extends RedisConnectionOptions {
  /**
   * Key prefix: lock keys are `<prefix>__lock:<key>`. Use the same value as the `redisStore`.
   * @default 'tc:'
   */
  readonly prefix?: string
  /**
   * First delay between attempts of a waiter, in milliseconds; it doubles per attempt (with
   * ±50 % jitter) up to `maxPollInterval`.
   * @default 10
   */
  readonly pollInterval?: Duration
  /** Longest delay between attempts of a waiter, in milliseconds. @default 200 */
  readonly maxPollInterval?: Duration
  /**
   * Lock lifetime used when `acquire` is given a `ttl` that is not a positive finite number,
   * in milliseconds.
   * @default 30_000
   */
  readonly defaultTtl?: Duration
}

/** How much of the invalidation log a stream keeps. */
export interface StreamRetention {
  /**
   * Entries kept in the stream, approximately (`XADD … MAXLEN ~ maxLen`: Redis trims whole
   * nodes, so a few more may stay). An instance disconnected for longer than it takes to append
   * this many entries has lost its place and flushes its local tiers when it returns; size it
   * as the longest disconnect to ride out times the peak invalidation rate. Memory: about 30 to
   * 100 bytes per entry plus the message (see the README).
   * @default 100_000
   */
  readonly maxLen?: number
}

/** Options for `redisBus({ mode: 'stream' })`. */
export interface RedisStreamBusOptions extends RedisConnectionOptions {
  /** Selects the stream bus. */
  readonly mode: 'stream'
  /**
   * Key prefix of the caches on this bus; the stream is `{<prefix>bus}` unless `stream` is
   * given. Use the same value as the `redisStore` of the caches that share L2.
   * @default 'tc:'
   */
  readonly prefix?: string
  /**
   * Stream key, also the channel its new entries are announced on. On a Cluster, give it a hash
   * tag so relay positions can live in the same slot.
   * @default `{<prefix>bus}`
   */
  readonly stream?: string
  /** How much of the log the stream keeps. */
  readonly retention?: StreamRetention
  /** Entries read per `XRANGE` while catching up. @default 1000 */
  readonly batch?: number
  /**
   * How often (milliseconds, or a duration string) the instance asks the stream for entries no
   * announcement brought; this bounds how long a lost announcement can delay an invalidation.
   * @default 1000
   */
  readonly pollInterval?: Duration
  /** As for the pub/sub bus: messages kept for retry after a failed append. @default 1000 */
  readonly maxQueue?: number
  /** First retry delay after a failed append, in milliseconds. @default 100 */
  readonly retryDelay?: Duration
  /** Longest delay between retries, in milliseconds. @default 5000 */
  readonly maxRetryDelay?: Duration
  /** Append attempts per message before it is dropped and counted as failed. @default 10 */
  readonly maxAttempts?: number
}

/** A region a {@link RegionRelayOptions | relay} copies from: its name and how to reach its Redis. */
export interface RegionSource extends RedisConnectionOptions {
  /** The source region's name (1-64 characters of `A-Z a-z 0-9 _ . -`). */
  readonly region: string
  /** The source's stream key. @default this region's stream name */
  readonly stream?: string
}

/** Options for `regionRelay`. */
export interface RegionRelayOptions {
  /** This (destination) region's name (1-64 characters of `A-Z a-z 0-9 _ . -`). */
  readonly region: string
  /** This region's Redis: its L2 and its stream. Copy positions are kept here too. */
  readonly to: RedisConnectionOptions
  /** The regions to copy from (every other region: regions form a full mesh). */
  readonly from: readonly RegionSource[]
  /** Key prefix of the caches, as their `redisStore` and stream bus. @default 'tc:' */
  readonly prefix?: string
  /** This region's stream key. @default `{<prefix>bus}` */
  readonly stream?: string
  /** Retention of this region's stream (as the instances' stream bus). */
  readonly retention?: StreamRetention
  /** Entries read per `XRANGE` while catching up. @default 1000 */
  readonly batch?: number
  /**
   * How often (milliseconds, or a duration string) each source is asked for entries no
   * announcement brought, and how soon a failed copy is retried.
   * @default 1000
   */
  readonly pollInterval?: Duration
  /**
   * Serializer of the caches (tag invalidation records are written with it).
   * @default core's defaultSerializer
   */
  readonly serializer?: Serializer
}
