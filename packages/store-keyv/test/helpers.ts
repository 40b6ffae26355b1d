import KeyvRedis from '@keyv/redis'
import { uniqueName } from '@tiercache/test-kit'
import type { KeyvAdapterLike } from '../src/index.js'

/** The machine's Redis; tests only touch their own namespaces. */
export const REDIS_URL: string = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'

const redisNamespaces: string[] = []

/** A unique Redis adapter namespace, remembered for {@link dropRedisNamespaces}. */
export function redisNamespace(): string {
  const namespace = uniqueName('tc-keyv')
  redisNamespaces.push(namespace)
  return namespace
}

/** A `@keyv/redis` adapter in a namespace of its own, remembered for {@link dropRedisNamespaces}. */
export function redisAdapter(): KeyvRedis<unknown> {
  return new KeyvRedis(REDIS_URL, { namespace: redisNamespace() })
}

/** Deletes every key the tests wrote to Redis (each namespace's `clear()` only touches it). */
export async function dropRedisNamespaces(): Promise<void> {
  for (const namespace of redisNamespaces.splice(0)) {
    const adapter = new KeyvRedis(REDIS_URL, { namespace })
    await adapter.clear()
    await adapter.disconnect()
  }
}

/**
 * A Keyv storage adapter on a Map that cannot list its keys (like `@keyv/memcache`), with or
 * without batch methods. Each call is counted.
 */
export function unlistableAdapter(batch: boolean): KeyvAdapterLike & {
  readonly map: Map<string, string>
  readonly calls: Record<string, number>
} {
  const map = new Map<string, string>()
  const calls: Record<string, number> = {}
  const count = (name: string): void => {
    calls[name] = (calls[name] ?? 0) + 1
  }
  const adapter = {
    map,
    calls,
    async get(key: string) {
      count('get')
      return map.get(key)
    },
    async set(key: string, value: string) {
      count('set')
      map.set(key, value)
    },
    async delete(key: string) {
      count('delete')
      return map.delete(key)
    },
    async clear() {
      count('clear')
      map.clear()
    },
  }
  if (!batch) return adapter
  return {
    ...adapter,
    async getMany(keys: string[]) {
      count('getMany')
      return keys.map((k) => map.get(k))
    },
    async setMany(entries: { key: string; value: string }[]) {
      count('setMany')
      for (const e of entries) map.set(e.key, e.value)
    },
    async deleteMany(keys: string[]) {
      count('deleteMany')
      let any = false
      for (const k of keys) any = map.delete(k) || any
      return any
    },
  }
}
