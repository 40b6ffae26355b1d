/**
 * The world the seed tests run in: a temporary SQLite file, a run id for Redis prefixes and
 * namespaces, the caches to close, the seed's Redis, and helpers reading what a tier holds.
 * A test file calls {@link useSeedWorld} once at its top.
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { tempDir } from '@tiercache/test-kit'
import { redisCommand } from '@tiercache/test-servers'
import Database from 'better-sqlite3'
import { afterAll, beforeAll } from 'vitest'
import { type Cache, getCache, setDefaultCache } from '../src/index.js'

const tmp = tempDir()
export const run: string = randomUUID().slice(0, 8)
/** Every cache a test made, closed after the file (the last one is the newest). */
export const caches: Cache[] = []
export const SQLITE: string = join(tmp.dir, 'seed.db')

/** The seed's Redis. */
export const redis6379 = { host: '127.0.0.1', port: 6379 }

/** A deployment's environment for the next cache: its own namespace, the shared Redis prefix and SQLite file. */
export function deployment(label: string): string {
  const namespace = `seed-${label}-${run}`
  process.env.TIERCACHE_NAMESPACE = namespace
  process.env.TIERCACHE_REDIS_PREFIX = `tcseed-${run}:`
  process.env.TIERCACHE_FALLBACK_DB = SQLITE
  return namespace
}

/** Milliseconds until a key of `namespace` expires in Redis (PTTL). */
export async function redisPttl(namespace: string, key: string): Promise<number> {
  return (await redisCommand(redis6379, 'PTTL', `tcseed-${run}:${namespace}:${key}`)) as number
}

/** Milliseconds until a key of `namespace` stops being served from the SQLite tier. */
export function sqliteTtl(namespace: string, key: string): number | undefined {
  const db = new Database(SQLITE, { readonly: true })
  try {
    const row = db
      .prepare('select stale_until from tiercache_entries where cache_key = ?')
      .get(`${namespace}:${key}`) as { stale_until: number } | undefined
    return row === undefined ? undefined : Number(row.stale_until) - Date.now()
  } finally {
    db.close()
  }
}

/** `seconds` within 5 s (the time the test itself takes). */
export function about(seconds: number): { asymmetricMatch(ms: number): boolean; toString(): string } {
  return {
    asymmetricMatch: (ms: number) => ms <= seconds * 1000 && ms > (seconds - 5) * 1000,
    toString: () => `about ${seconds} s`,
  }
}

/** Remembers a cache to clear and close after the file. */
export function track<C extends Cache>(cache: C): C {
  caches.push(cache)
  return cache
}

/** Registers the hooks that prepare the seed's environment and close every tracked cache. */
export function useSeedWorld(): void {
  beforeAll(() => {
    setDefaultCache(undefined)
    delete process.env.REDIS_URL
    delete process.env.TIERCACHE_REDIS_URL
    // The seed's global instance is configured by its deployment: Redis on localhost.
    process.env.TIERCACHE_REDIS_HOST = 'localhost'
  })

  afterAll(async () => {
    const global = getCache()
    caches.push(global)
    setDefaultCache(undefined)
    for (const cache of caches) {
      await cache.clear().catch(() => {})
      await cache.close()
    }
    for (const name of [
      'TIERCACHE_NAMESPACE',
      'TIERCACHE_REDIS_PREFIX',
      'TIERCACHE_FALLBACK_DB',
      'TIERCACHE_REDIS_HOST',
    ]) {
      delete process.env[name]
    }
    tmp.remove()
  })
}
