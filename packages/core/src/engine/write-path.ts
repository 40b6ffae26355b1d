import { isTierCacheError, StoreError } from '../errors.js'
import type { RemoteEntry, SetCondition } from '../store.js'
import type { EngineContext } from './context.js'
import { type Meta, makeEntry } from './entries.js'
import type { Tier, TierOutcome, TierSet } from './tier-set.js'
import type { TierWriter } from './tier-writer.js'

/** One value to write. */
export interface Write {
  readonly rel: string
  readonly value: unknown
  readonly bytes: Uint8Array
  /** What the memory tier accounts for the live value, in bytes (see heap-size.ts). */
  readonly size: number
  readonly meta: Meta
}

/**
 * The write side. A tier that fails or refuses a write loses the key, so it can never serve the
 * value the write replaced; every refusal is counted and reported, and strict mode throws it.
 */
export class WritePath {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  readonly #writer: TierWriter

  constructor(ctx: EngineContext, tiers: TierSet, writer: TierWriter) {
    this.#ctx = ctx
    this.#tiers = tiers
    this.#writer = writer
  }

  /** Writes values into the local tiers (this instance's own write). Returns the failures. */
  async writeLocal(
    writes: readonly Write[],
    now: number,
    stillValid?: (w: Write) => boolean,
  ): Promise<unknown[]> {
    const failures: unknown[] = []
    for (const tier of this.#tiers.locals) {
      for (const w of writes) {
        if (stillValid !== undefined && !stillValid(w)) continue
        if (tier.memory) {
          const error = this.#writer.setMemory(tier, w.rel, w.value, w.meta, w.size, now, true)
          if (error !== undefined) failures.push(error)
        } else {
          const entry = this.#tiers.cap(tier, makeEntry(w.bytes, w.meta, w.bytes.byteLength), now)
          const valid = stillValid === undefined ? undefined : () => stillValid(w)
          const error = await this.#writer.writeBytes(
            tier,
            this.#tiers.keyIn(tier, w.rel),
            w.rel,
            entry,
            valid,
            'set',
          )
          if (error !== undefined) failures.push(error)
        }
      }
    }
    return failures
  }

  /**
   * Writes values into every shared tier in parallel (one batch per tier when it can). A tier that
   * fails loses the keys. Returns the failures.
   */
  async writeShared(writes: readonly Write[], now: number): Promise<unknown[]> {
    const tiers = this.#tiers
    const outcomes = await Promise.all(
      tiers.shared.map((tier) =>
        tiers.attempt(
          tier,
          writes.length === 1 ? 'set' : 'setMany',
          async () => {
            const items = writes.map(
              (w) =>
                [
                  tiers.keyIn(tier, w.rel),
                  tiers.cap(tier, makeEntry(w.bytes, w.meta, w.bytes.byteLength), now),
                ] as const,
            )
            if (items.length === 1) {
              const [k, e] = items[0] as readonly [string, RemoteEntry]
              await tier.store.set(k, e)
            } else if (tier.setMany) await tier.store.setMany!(items)
            else
              await Promise.all(items.map(([k, e]) => tiers.guard(tier, 'set', () => tier.store.set(k, e))))
            tier.sets += items.length
          },
          writes.length === 1 ? writes[0]?.rel : undefined,
        ),
      ),
    )
    return this.#dropWhereFailed(tiers.shared, outcomes, writes)
  }

  /**
   * Writes a loaded value into the shared tiers: a conditional tier only where the read before the
   * load left a condition (a lease or the entry it saw), a tier without conditional writes
   * directly. Resolves whether the value is still current: `false` when a conditional write found
   * its condition gone (another instance invalidated or replaced the key), and the failures.
   */
  async writeLoadedShared(
    w: Write,
    now: number,
    expect: readonly (SetCondition | undefined)[],
  ): Promise<{ readonly current: boolean; readonly failures: unknown[] }> {
    const tiers = this.#tiers
    let current = true
    const targets: Tier[] = []
    const outcomes = await Promise.all(
      tiers.shared.map((tier) => {
        const key = tiers.keyIn(tier, w.rel)
        const entry = tiers.cap(tier, makeEntry(w.bytes, w.meta, w.bytes.byteLength), now)
        if (tier.conditional) {
          const condition = expect[tier.index]
          if (condition === undefined) return Promise.resolve<TierOutcome<void> | undefined>(undefined)
          targets.push(tier)
          return tiers.attempt(
            tier,
            'set',
            async () => {
              if ((await tier.store.conditionalSet!(key, entry, condition)) === true) tier.sets++
              else current = false
            },
            w.rel,
          )
        }
        targets.push(tier)
        return tiers.attempt(
          tier,
          'set',
          async () => {
            await tier.store.set(key, entry)
            tier.sets++
          },
          w.rel,
        )
      }),
    )
    const done = outcomes.filter((o): o is TierOutcome<void> => o !== undefined)
    return { current, failures: await this.#dropWhereFailed(targets, done, [w]) }
  }

  /**
   * Deletes the written keys from every tier whose write failed (best effort): awaited when the
   * tier refused the value (it answers), in the background otherwise (it may not answer soon).
   */
  async #dropWhereFailed(
    tiers: readonly Tier[],
    outcomes: readonly TierOutcome<unknown>[],
    writes: readonly Write[],
  ): Promise<unknown[]> {
    const failures: unknown[] = []
    const drops: Promise<unknown>[] = []
    outcomes.forEach((o, i) => {
      if (o.ok) return
      failures.push(o.error)
      // An open breaker refused the write at once and journaled it; it decides what the store
      // gets when it answers again.
      if (isTierCacheError(o.error, 'E_CIRCUIT_OPEN')) return
      const tier = tiers[i] as Tier
      const refused = isTierCacheError(o.error, 'E_VALUE_TOO_LARGE')
      if (refused) this.#writer.countRefused(tier)
      for (const w of writes) {
        const key = this.#tiers.keyIn(tier, w.rel)
        const drop = this.#tiers.guard(tier, 'delete', () => tier.store.delete(key)).catch(() => {})
        if (refused) drops.push(drop)
        else this.#ctx.background(drop)
      }
    })
    await Promise.all(drops)
    return failures
  }

  /** In strict mode, throws the first failure. */
  throwIfStrict(failures: readonly unknown[], operation: string, key?: string): void {
    if (!this.#ctx.strict || failures.length === 0) return
    const error = failures[0]
    throw isTierCacheError(error)
      ? error
      : new StoreError(`${operation} failed in a tier`, { operation, key, cause: error })
  }
}
