import {
  type RedisBus,
  type RedisLock,
  type RedisStore,
  redisBus,
  redisLock,
  redisStore,
} from '@tiercache/store-redis'
import type { Redis } from 'ioredis'

/** Standalone with an ACL user and database 2. `redis://user:password@host:port/2` works too. */
export function withAcl(url: string, username: string, password: string, prefix = 'myapp:'): RedisStore {
  return redisStore({ url, username, password, db: 2, prefix, commandTimeout: '500ms' })
}

/** TLS (`rediss://`) with a private CA and, for servers that require one, a client certificate. */
export function withTls(
  url: string,
  tls: { ca: string; cert?: string; key?: string },
  prefix = 'myapp:',
): RedisStore {
  return redisStore({ url, tls, prefix })
}

/** A Cluster: a few nodes are enough; batches are split by hash slot, clears scan every master. */
export function onCluster(nodes: { host: string; port: number }[], prefix = 'myapp:'): RedisStore {
  return redisStore({ cluster: { nodes }, prefix })
}

/**
 * A Cluster over TLS (`tls-cluster yes`): the certificate settings apply to every node the
 * client discovers, and to the bus's subscriber connection.
 */
export function onTlsCluster(
  nodes: { host: string; port: number }[],
  ca: string,
  prefix = 'myapp:',
): { store: RedisStore; bus: RedisBus; lock: RedisLock } {
  const connection = { cluster: { nodes }, tls: { ca }, prefix }
  return { store: redisStore(connection), bus: redisBus(connection), lock: redisLock(connection) }
}

/** The master that Sentinel knows as `name`. */
export function viaSentinel(
  sentinels: { host: string; port: number }[],
  name: string,
  prefix = 'myapp:',
): RedisStore {
  return redisStore({ sentinel: { sentinels, name }, prefix })
}

/**
 * One client of your own for the store, the bus (it subscribes on a duplicate) and the lock.
 * None of them closes it: you do, after closing the cache.
 */
export function sharedClient(
  client: Redis,
  prefix = 'myapp:',
): { store: RedisStore; bus: RedisBus; lock: RedisLock } {
  return {
    store: redisStore({ client, prefix }),
    bus: redisBus({ client, prefix }),
    lock: redisLock({ client, prefix }),
  }
}
