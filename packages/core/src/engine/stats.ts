import type { CacheStats, TierStats } from '../types.js'
import type { EngineContext } from './context.js'
import { isThenable } from './entries.js'
import type { AccessTracker } from './ports.js'
import type { Tier, TierSet } from './tier-set.js'

function ratio(hits: number, misses: number): number {
  const total = hits + misses
  return total === 0 ? 0 : hits / total
}

/** `getStats()` and `refreshStats()`: the counters plus what the stores report. */
export class Stats {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet

  constructor(ctx: EngineContext, tiers: TierSet) {
    this.#ctx = ctx
    this.#tiers = tiers
  }

  #tier(tier: Tier): TierStats {
    const store = tier.store
    if (tier.stats && tier.memory) {
      try {
        const r = store.stats!()
        if (!isThenable(r)) tier.reported = r
      } catch {}
    }
    const r = tier.reported
    const connected = r.connected ?? tier.connected ?? (tier.memory ? true : undefined)
    return {
      index: tier.index,
      level: tier.level,
      name: store.name,
      kind: tier.memory ? 'memory' : 'remote',
      scope: tier.local ? 'local' : 'shared',
      hits: tier.hits,
      misses: tier.misses,
      hitRatio: ratio(tier.hits, tier.misses),
      sets: tier.sets,
      deletes: tier.deletes,
      errors: tier.errors,
      skipped: tier.skipped,
      refused: tier.refused,
      ...(r.entries !== undefined ? { entries: r.entries } : {}),
      ...(r.bytes !== undefined ? { bytes: r.bytes } : {}),
      ...(r.maxBytes !== undefined ? { maxBytes: r.maxBytes } : {}),
      ...(r.evictions !== undefined ? { evictions: r.evictions } : {}),
      ...(connected !== undefined ? { connected } : {}),
      ...(r.usedMemory !== undefined ? { usedMemory: r.usedMemory } : {}),
    }
  }

  get(warming: AccessTracker | undefined): CacheStats {
    const now = this.#ctx.now()
    for (const tier of this.#tiers.remote) {
      if (now - tier.reportedAt > 5000) this.#ctx.background(this.#refresh(tier))
    }
    const tiers = this.#tiers.all.map((t) => this.#tier(t))
    const c = this.#ctx.counters
    const l1 = this.#tiers.l1 ? tiers[0] : undefined
    const firstShared = this.#tiers.shared[0]
    const l2 = firstShared ? tiers[firstShared.index] : undefined
    return {
      hits: c.hits,
      misses: c.misses,
      hitRatio: ratio(c.hits, c.misses),
      sets: c.sets,
      deletes: c.deletes,
      loads: c.loads,
      loadErrors: c.loadErrors,
      collapsed: c.collapsed,
      staleServed: c.staleServed,
      refreshes: c.refreshes,
      errors: c.errors,
      skipped: c.skipped,
      refused: c.refused,
      tiers,
      l1_cache: { size: l1?.bytes ?? 0, hit_ratio: l1?.hitRatio ?? 0, entries: l1?.entries ?? 0 },
      l2_cache: { connected: l2?.connected ?? false, used_memory: l2?.usedMemory ?? 0 },
      ...(warming ? { warming: warming.stats() } : {}),
    }
  }

  async #refresh(tier: Tier): Promise<void> {
    tier.reportedAt = this.#ctx.now()
    if (!tier.stats) return
    try {
      tier.reported = await this.#tiers.guard(tier, 'stats', () => tier.store.stats!())
    } catch (error) {
      this.#ctx.reportError(error, 'stats', tier)
    }
  }

  /** Counters with fresh store stats. */
  async refresh(warming: AccessTracker | undefined): Promise<CacheStats> {
    await Promise.all(this.#tiers.remote.map((t) => this.#refresh(t)))
    return this.get(warming)
  }
}
