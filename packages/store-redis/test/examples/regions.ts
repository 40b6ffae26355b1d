import { type Cache, createCache } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { type RegionRelay, redisBus, redisStore, regionRelay } from '@tiercache/store-redis'

/** A cache instance of one region: L1, the region's Redis as L2, and the stream bus. */
export function regionCache(url: string, prefix: string): Cache {
  return createCache({
    namespace: 'app',
    tiers: [memoryStore(), redisStore({ url, prefix })],
    bus: redisBus({ url, prefix, mode: 'stream', retention: { maxLen: 100_000 } }),
  })
}

/** The relay of region `region`: copies invalidations from the other regions into it. */
export function relayFor(
  region: string,
  url: string,
  others: { region: string; url: string }[],
  prefix: string,
): RegionRelay {
  return regionRelay({ region, to: { url }, from: others, prefix })
}
