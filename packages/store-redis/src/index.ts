/**
 * The Redis tier (L2) on ioredis (`redisStore`: standalone, Sentinel, Cluster, TLS, ACL), with
 * `redisBus` for cross-instance L1 invalidation and `redisLock` for cross-instance single-flight.
 *
 * @module
 */
export type { AnyRedisClient, ClusterClientLike, RedisClientLike } from './client.js'
export type {
  RedisBusOptions,
  RedisClusterConnection,
  RedisConnectionOptions,
  RedisLockOptions,
  RedisSentinelConnection,
  RedisStoreOptions,
  RedisTlsOptions,
} from './options.js'
export { decodeBusMessage, encodeBusMessage, RedisBus, redisBus } from './redis-bus.js'
export { RedisLock, redisLock } from './redis-lock.js'
export { DEFAULT_PREFIX, RedisStore, redisStore } from './redis-store.js'
