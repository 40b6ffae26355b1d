import { ValueTooLargeError } from '../errors.js'
import type { StoreEntry } from '../store.js'
import type { EngineContext } from './context.js'
import { isThenable, type Meta, makeLocalEntry } from './entries.js'
import type { AccessTracker } from './ports.js'
import type { Tier, TierSet } from './tier-set.js'

/**
 * Writes into one tier, shared by back-fills and writes: a memory tier gets a live entry (linked
 * to warming), a tier that keeps bytes gets the serialized entry. A tier that refuses or fails a
 * write loses the key instead, so it never keeps an older value; refusals are counted.
 */
export class TierWriter {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  /** Told of every new L1 entry (warming). */
  tracker: AccessTracker | undefined

  constructor(ctx: EngineContext, tiers: TierSet) {
    this.#ctx = ctx
    this.#tiers = tiers
  }

  /**
   * Writes an entry into a tier that keeps bytes. If `stillValid` says an invalidation covering
   * the key began while an asynchronous write was on its way, the key is deleted again. A tier
   * that fails or refuses the write loses the key (it must not keep an older value); resolves the
   * error, if any, after reporting it.
   */
  async writeBytes(
    tier: Tier,
    key: string,
    rel: string,
    entry: StoreEntry<Uint8Array>,
    stillValid: (() => boolean) | undefined,
    operation: string,
  ): Promise<unknown> {
    try {
      const r = tier.store.set(key, entry)
      if (isThenable(r)) {
        await this.#tiers.guard(tier, operation, () => r)
        if (stillValid !== undefined && !stillValid()) await tier.store.delete(key)
      }
      tier.sets++
      return undefined
    } catch (error) {
      this.#ctx.reportError(error, operation, tier, rel)
      if (error instanceof ValueTooLargeError) this.countRefused(tier)
      await this.#tiers.guard(tier, 'delete', () => tier.store.delete(key)).catch(() => {})
      return error
    }
  }

  /** Counts a write a tier refused (too large). */
  countRefused(tier: Tier): void {
    tier.refused++
    this.#ctx.counters.refused++
  }

  /**
   * Sets an entry in a memory tier. A value larger than the tier's `maxEntryBytes` (or one the
   * store refuses) removes the key there instead; `report` says whether to emit an `error` event
   * for the refusal (writes do, back-fills only count it). Returns the error, if any.
   */
  setMemory(
    tier: Tier,
    rel: string,
    value: unknown,
    meta: Meta,
    size: number,
    now: number,
    report: boolean,
  ): unknown {
    let refusal: unknown
    try {
      if (tier.maxEntryBytes !== undefined && size > tier.maxEntryBytes) {
        refusal = new ValueTooLargeError(size, tier.maxEntryBytes, {
          key: rel,
          store: tier.store.name,
          operation: 'set',
        })
      } else {
        const entry = makeLocalEntry(value, this.#tiers.cap(tier, meta, now), size)
        this.tracker?.linkL1(rel, entry)
        const result = tier.store.set(rel, entry)
        if (isThenable(result)) this.#ctx.background(result)
        tier.sets++
        return undefined
      }
    } catch (error) {
      refusal = error
    }
    if (refusal instanceof ValueTooLargeError) this.countRefused(tier)
    if (report || !(refusal instanceof ValueTooLargeError)) this.#ctx.reportError(refusal, 'set', tier, rel)
    try {
      tier.store.delete(rel)
    } catch {}
    return refusal
  }
}
