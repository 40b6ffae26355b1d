import { randomUUID } from 'node:crypto'
import type { Bus } from '@tiercache/core'
import type { BreakerStore } from './breaker-store.js'
import type { ReplayEvent } from './events.js'

/**
 * Tells the other instances on `bus` to flush their local tiers of `namespace` each time
 * `breaker` has replayed journaled intents to its store (a `clear` bus message, sent after the
 * replay, from an instance id of its own).
 *
 * Why: a write or delete the breaker journaled reaches the store only at the replay, but the
 * engine announced it on the bus when it was made. An instance that read the store in between
 * (its own breaker was closed already, or the bus message came first) holds the value the write
 * replaced, and nothing would tell it again. The message after the replay does. It costs the
 * other instances one L1 flush of the namespace per replay that applied something.
 *
 * `createDistributedCache` (package `tiercache`) wires this for its Redis tier; call it yourself
 * when you compose `createCache` with `withBreaker` and a bus.
 *
 * @param breaker - the breaker around a shared tier
 * @param bus - the cache's bus (e.g. `redisBus`)
 * @param namespace - the cache's root namespace
 * @returns a function that stops announcing
 * @example
 * ```ts
 * const l2 = withBreaker(redisStore({ url }))
 * const bus = redisBus({ url })
 * const cache = createCache({ namespace: 'app', tiers: [memoryStore(), l2], bus })
 * announceReplays(l2, bus, 'app')
 * ```
 */
export function announceReplays(
  breaker: BreakerStore,
  bus: Pick<Bus, 'publish'>,
  namespace: string,
): () => void {
  const instanceId = `replay:${randomUUID()}`
  const listener = (event: ReplayEvent): void => {
    if (event.applied === 0) return
    try {
      const r = bus.publish({ instanceId, namespace, type: 'clear' })
      if (r && typeof r.then === 'function') r.then(undefined, () => {})
    } catch {}
  }
  breaker.on('replay', listener)
  return () => {
    breaker.off('replay', listener)
  }
}
