import type { RemoteEntry, SetCondition } from '../store.js'
import type { EngineContext } from './context.js'
import type { Tier, TierSet } from './tier-set.js'

/**
 * Leases on shared tiers. A read that misses a shared tier with `conditionalSet` writes a
 * placeholder there (`lease`) before it reads anything below; a value it later writes into that
 * tier replaces the placeholder only if it is still there (`conditionalSet`). Any delete, pattern
 * delete, clear or write of the key by any instance removes or replaces the placeholder (so does a
 * later lease), so a value read before that mutation can never land after it.
 */
/** An entry already expired: a conditional write of it deletes the placeholder it names. */
const RELEASED: RemoteEntry = {
  value: new Uint8Array(0),
  createdAt: 0,
  freshUntil: 0,
  staleUntil: 0,
  tags: [],
}

export class LeaseBook {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  #next = 0

  constructor(ctx: EngineContext, tiers: TierSet) {
    this.#ctx = ctx
    this.#tiers = tiers
  }

  /**
   * Takes a lease on `key` in `tier` for `ttl` ms. Resolves the condition a later write must meet,
   * or `undefined` when the key holds an entry (or the tier failed).
   */
  async acquire(tier: Tier, key: string, rel: string, ttl: number): Promise<SetCondition | undefined> {
    const token = `${this.#ctx.instanceId}:${++this.#next}`
    const outcome = await this.#tiers.attempt(
      tier,
      'lease',
      () => tier.store.lease?.(key, token, ttl) ?? false,
      rel,
    )
    return outcome.ok && outcome.value === true ? { lease: token } : undefined
  }

  /**
   * Removes a placeholder this instance wrote and will not use (in the background; a failure
   * leaves it to expire).
   */
  release(tier: Tier, key: string, condition: SetCondition): void {
    if (!('lease' in condition)) return
    this.#ctx.background(
      this.#tiers
        .guard(tier, 'lease', () => tier.store.conditionalSet!(key, RELEASED, condition))
        .catch(() => {}),
    )
  }
}
