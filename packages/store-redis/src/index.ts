/**
 * The Redis tier (L2) on ioredis (`redisStore`: standalone, Sentinel, Cluster, TLS, ACL), with
 * `redisBus` for cross-instance L1 invalidation and `redisLock` for cross-instance single-flight.
 *
 * @module
 */
export { decodeBusMessage, encodeBusMessage } from './bus-codec.js'
export type {
  AnyRedisClient,
  ClusterClientLike,
  RedisBusOptions,
  RedisClientLike,
  RedisClusterConnection,
  RedisConnectionOptions,
  RedisLockOptions,
  RedisSentinelConnection,
  RedisStoreOptions,
  RedisStreamBusOptions,
  RedisTlsOptions,
  RegionRelayOptions,
  RegionSource,
  StreamRetention,
} from './options.js'
export { RedisBus, redisBus } from './redis-bus.js'
export { RedisLock, redisLock } from './redis-lock.js'
export { DEFAULT_PREFIX, RedisStore, redisStore } from './redis-store.js'
export { DEFAULT_STREAM_MAX_LEN, RedisStreamBus, streamKey } from './redis-stream-bus.js'
export { RegionRelay, type RelaySourceStats, regionRelay } from './region-relay.js'
export { keySlot } from './slot.js'
