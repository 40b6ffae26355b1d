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
  RedisTlsOptions,
} from './options.js'
export { decodeBusMessage, encodeBusMessage, RedisBus, redisBus } from './redis-bus.js'
export { RedisLock, redisLock } from './redis-lock.js'
export { DEFAULT_PREFIX, RedisStore, redisStore } from './redis-store.js'
