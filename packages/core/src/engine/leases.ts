import type { SetCondition } from '../store.js'
import type { EngineContext } from './context.js'
import type { Tier, TierSet } from './tier-set.js'

const MAX_HELD = 10_000

/**
 * Leases this instance holds on shared tiers. A read that misses a shared tier with
 * `conditionalSet` writes a placeholder there (`lease`) before it reads anything below; a value
 * it later writes into that tier replaces the placeholder only if it is still there
 * (`conditionalSet`). Any delete, pattern delete, clear or write by any instance removes or
 * replaces the placeholder, so a value read before that mutation can never land after it.
 *
 * The book remembers this instance's live tokens, so two reads of one key on one instance share
 * a lease instead of the second one finding the first one's placeholder and giving up.
 */
export class LeaseBook {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  readonly #held = new Map<string, { readonly token: string; readonly until: number }>()
  #next = 0

  constructor(ctx: EngineContext, tiers: TierSet) {
    this.#ctx = ctx
    this.#tiers = tiers
  }

  /**
   * Takes (or reuses) a lease on `key` in `tier` for `ttl` ms. Resolves the condition a later
   * write must meet, or `undefined` when another instance holds the key (or the tier failed).
   */
  async acquire(tier: Tier, key: string, rel: string, ttl: number): Promise<SetCondition | undefined> {
    const id = `${tier.index}\u0000${key}`
    const now = this.#ctx.now()
    const token = `${this.#ctx.instanceId}:${++this.#next}`
    const outcome = await this.#tiers.attempt(
      tier,
      'lease',
      () => tier.store.lease?.(key, token, ttl) ?? false,
      rel,
    )
    if (outcome.ok && outcome.value === true) {
      if (this.#held.size >= MAX_HELD) {
        const oldest = this.#held.keys().next().value
        if (oldest !== undefined) this.#held.delete(oldest)
      }
      this.#held.delete(id)
      this.#held.set(id, { token, until: now + ttl })
      return { lease: token }
    }
    if (!outcome.ok) return undefined
    const mine = this.#held.get(id)
    if (mine === undefined) return undefined
    if (mine.until <= now) {
      this.#held.delete(id)
      return undefined
    }
    return { lease: mine.token }
  }

  /** Forgets a lease once a write used it (whether or not the write landed). */
  release(tier: Tier, key: string, condition: SetCondition): void {
    if (!('lease' in condition)) return
    const id = `${tier.index}\u0000${key}`
    if (this.#held.get(id)?.token === condition.lease) this.#held.delete(id)
  }

  /** Forgets every lease (the shared tiers may have lost them). */
  clear(): void {
    this.#held.clear()
  }
}
