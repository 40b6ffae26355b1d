/**
 * The caches under test, with a way to read each tier alone and to list what each tier holds:
 *
 * - `memory`: one memory store;
 * - `memory + Redis + SQLite`: a memory L1, a private redis-server (started for the run, so its
 *   key count is ours alone) and an SQLite file, plus a second cache with another root namespace
 *   on the same Redis and SQLite, whose keys are sentinels.
 *
 * The properties run against the child namespace `fz` of the root cache; sentinel keys live at
 * the root beside it (`fz` itself, `fz2:…`, `fz-x:…`), in the neighbouring namespace `fz2`, and in
 * the other cache.
 */

import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { type Cache, createCache, defaultSerializer, type Store } from '@tiercache/core'
import type { StoreEntry } from '@tiercache/core/store'
import { kyselyStore, type SqliteDatabaseLike } from '@tiercache/fallback-kysely'
import { memoryStore } from '@tiercache/store-memory'
import { redisStore } from '@tiercache/store-redis'
import { tempDir } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import Database from 'better-sqlite3'
import { deepSame } from './compare.js'

/** One tier, read alone. */
export interface TierView {
  readonly level: string
  /** The live value stored under a cache key (`<root>:<rel>`), or `missing`. */
  read(root: string, rel: string): Promise<{ found: true; value: unknown } | { found: false }>
  /** Every key the tier holds, as stored (`<root>:<rel>` or `<root>#tags:<tag>`); undefined for L1. */
  keys(): Promise<string[] | undefined>
  /** How many entries the tier holds (expired ones may count). */
  count(): Promise<number>
}

export interface Harness {
  readonly name: string
  /** The root cache (namespace `fuzz`). */
  readonly cache: Cache
  readonly root: string
  readonly tiers: readonly TierView[]
  /** Remote tiers only (the L1 holds live values and has no key listing). */
  readonly remote: boolean
  /** Writes the sentinels (again). */
  writeSentinels(): Promise<void>
  /** Problems with the sentinels, read from every tier alone (empty when all are intact). */
  checkSentinels(): Promise<string[]>
  /** Keys a tier may hold besides the fuzzed namespace: the sentinels, as stored. */
  readonly sentinelKeys: ReadonlySet<string>
  close(): Promise<void>
}

const ROOT = 'fuzz'
const OTHER = 'other'
const SENTINEL_TAG = `sentinel-${randomUUID()}`

/** Values of every claimed kind, so a sentinel also proves those survive. */
const sentinelValue = (i: number): object => ({
  i,
  when: new Date(1_700_000_000_000 + i),
  big: BigInt(i) * 10n ** 20n,
  map: new Map([['k', [i, -0, Number.NaN]]]),
  bytes: Buffer.from([i, 255 - i]),
})

/** Root-cache keys beside the fuzzed namespace `fz`. */
const ROOT_SENTINELS = ['fz', 'fz2:k', 'fz-x:k', 'fz2', 'f', 'fz\\:k', 'x']
/** Keys of the other cache (another root namespace on the same shared tiers). */
const OTHER_SENTINELS = ['k', 'fz:k', 'fz', 'fuzz:fz:k']

function liveEntry(entry: StoreEntry<unknown> | undefined): StoreEntry<unknown> | undefined {
  return entry !== undefined && entry.staleUntil > Date.now() ? entry : undefined
}

function memoryView(store: Store<unknown>, level: string): TierView {
  return {
    level,
    async read(root, rel) {
      // The L1 is keyed by the key relative to the root namespace.
      if (root !== ROOT) return { found: false }
      const entry = liveEntry((await store.get(rel)) ?? undefined)
      return entry === undefined ? { found: false } : { found: true, value: entry.value }
    },
    keys: async () => undefined,
    count: async () => (await store.stats?.())?.entries ?? 0,
  }
}

function remoteView(store: Store<Uint8Array>, level: string, list: () => Promise<string[]>): TierView {
  return {
    level,
    async read(root, rel) {
      const entry = liveEntry((await store.get(`${root}:${rel}`)) as StoreEntry<unknown> | undefined)
      if (entry === undefined) return { found: false }
      return { found: true, value: defaultSerializer.deserialize(entry.value as Uint8Array) }
    },
    keys: list,
    count: async () => (await list()).length,
  }
}

/** A cache on one memory store. */
export async function memoryHarness(): Promise<Harness> {
  const l1 = memoryStore()
  const cache = createCache({ namespace: ROOT, tiers: [l1], ttl: '1h' })
  const tiers = [memoryView(l1, 'l1_memory')]
  return finish('memory', cache, tiers, undefined, async () => {})
}

let redis: RedisServer | undefined
let redisUsers = 0

/** A cache on memory + Redis (a private server) + SQLite, and a neighbour cache on the same Redis and SQLite. */
export async function tieredHarness(): Promise<Harness> {
  redis ??= await startRedis()
  redisUsers++
  const server = redis
  const prefix = `fz${randomUUID().slice(0, 8)}:`
  const { dir, remove: removeDir } = tempDir('tiercache-fuzz')
  // The store's SqliteDatabaseLike declares `transaction` as returning `F`, better-sqlite3's
  // declarations `Transaction<F>`: the store handles a real Database, the declarations refuse it.
  const db = new Database(join(dir, 'cache.db')) as unknown as SqliteDatabaseLike
  const table = 'fuzz_entries'
  const l1 = memoryStore()
  const l2 = redisStore({ url: server.url, prefix })
  const l3 = kyselyStore({ sqlite: db }, { table })
  const cache = createCache({ namespace: ROOT, tiers: [l1, l2, l3], ttl: '1h' })
  const other = createCache({
    namespace: OTHER,
    tiers: [memoryStore(), redisStore({ url: server.url, prefix }), kyselyStore({ sqlite: db }, { table })],
    ttl: '1h',
  })
  const redisKeys = async (): Promise<string[]> => {
    const out: string[] = []
    let cursor = '0'
    do {
      const [next, found] = (await server.command('SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [
        string,
        string[],
      ]
      cursor = next
      for (const k of found) out.push(k.slice(prefix.length))
    } while (cursor !== '0')
    // A key holding only a read's lease placeholder holds no entry (every read sees it as missing).
    const held = await Promise.all(out.map(async (k) => (await l2.get(k)) !== undefined || (await l2.has(k))))
    return out.filter((_, i) => held[i])
  }
  const sqlKeys = async (): Promise<string[]> => {
    // The first call through the store creates the table.
    await l3.get(`${ROOT}:probe`)
    // Lease placeholder rows (created_at -1) hold no entry.
    const rows = db.prepare(`SELECT cache_key AS key FROM "${table}" WHERE created_at >= 0`).all() as {
      key: string
    }[]
    return rows.map((r) => r.key)
  }
  const tiers = [
    memoryView(l1, 'l1_memory'),
    remoteView(l2, 'l2_redis', redisKeys),
    remoteView(l3, 'l3_sql', sqlKeys),
  ]
  return finish('memory + Redis + SQLite', cache, tiers, other, async () => {
    await other.close()
    db.close()
    removeDir()
    redisUsers--
    if (redisUsers === 0) {
      await redis?.stop()
      redis = undefined
    }
  })
}

function finish(
  name: string,
  cache: Cache,
  tiers: TierView[],
  other: Cache | undefined,
  cleanup: () => Promise<void>,
): Harness {
  const sentinels: [Cache, string, string, {} | null][] = [
    ...ROOT_SENTINELS.map((k, i) => [cache, ROOT, k, sentinelValue(i)] as [Cache, string, string, {} | null]),
    ...(other
      ? OTHER_SENTINELS.map(
          (k, i) => [other, OTHER, k, sentinelValue(100 + i)] as [Cache, string, string, {} | null],
        )
      : []),
  ]
  const sentinelKeys = new Set<string>()
  for (const [, root, key] of sentinels) sentinelKeys.add(`${root}:${key}`)
  sentinelKeys.add(`${ROOT}#tags:${SENTINEL_TAG}`)
  return {
    name,
    cache,
    root: ROOT,
    tiers,
    remote: other !== undefined,
    sentinelKeys,
    async writeSentinels() {
      for (const [c, , key, value] of sentinels) await c.set(key, value, { ttl: '1d', tags: [SENTINEL_TAG] })
    },
    async checkSentinels() {
      const problems: string[] = []
      for (const [, root, key, value] of sentinels) {
        for (const tier of tiers) {
          if (tier.level === 'l1_memory' && root !== ROOT) continue
          const got = await tier.read(root, key)
          if (!got.found) {
            problems.push(`sentinel ${root}:${key} is missing from ${tier.level}`)
            continue
          }
          const diff = deepSame(got.value, value)
          if (diff) problems.push(`sentinel ${root}:${key} changed in ${tier.level}: ${diff}`)
        }
      }
      return problems
    },
    async close() {
      await cache.close()
      await cleanup()
    },
  }
}
