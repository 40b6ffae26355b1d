/**
 * Test helpers that run real Redis servers as child processes: standalone, TLS, ACL, a
 * 3-master Cluster and Sentinel, on free loopback ports, with kill / pause / restart for
 * outage tests. Every process dies with the test process.
 *
 * @module
 */
export { freePort } from './ports.js'
export { type RedisCluster, type RedisClusterOptions, startRedisCluster } from './redis-cluster.js'
export { type RedisSentinel, type RedisSentinelOptions, startRedisSentinel } from './redis-sentinel.js'
export {
  type AclUser,
  type RedisServer,
  type RedisServerOptions,
  type RedisTlsOptions,
  startRedis,
} from './redis-server.js'
export { RespError, type RespReply, type RespTarget, redisCommand, redisCommands } from './resp.js'
export { type ProxyOptions, startProxy, type TcpProxy } from './tcp-proxy.js'
export { makeTlsCertificates, type TlsCertificates } from './tls.js'
