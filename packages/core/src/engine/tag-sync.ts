import { NEVER } from '../duration.js'
import type { RemoteEntry } from '../store.js'
import type { TagRegistry } from '../tags.js'
import type { EngineContext } from './context.js'
import type { Tier, TierSet } from './tier-set.js'

/**
 * Tag invalidation times in the tiers that keep bytes: `<root>#tags:<tag>` records written by
 * `invalidateTags`, read lazily (shared tiers first) when an entry carries a tag this instance
 * knows nothing (or nothing recent) about.
 */
export class TagSync {
  readonly #ctx: EngineContext
  readonly #tiers: TierSet
  readonly #registry: TagRegistry
  /** How long a time read from a shared tier is trusted, in ms. */
  readonly #interval: number
  readonly #fetches = new Map<string, Promise<void>>()
  readonly #onOverflow: () => void
  /** Where records are read: shared tiers first, then local files. */
  readonly #readFrom: readonly Tier[]

  constructor(
    ctx: EngineContext,
    tiers: TierSet,
    registry: TagRegistry,
    interval: number,
    onOverflow: () => void,
  ) {
    this.#ctx = ctx
    this.#tiers = tiers
    this.#registry = registry
    this.#interval = interval
    this.#onOverflow = onOverflow
    this.#readFrom = [...tiers.shared, ...tiers.persistent]
  }

  #key(tag: string): string {
    return `${this.#ctx.root}#tags:${tag}`
  }

  /** Makes sure the invalidation times of `tags` are known (reads tag records from shared tiers). */
  async ensure(tags: readonly string[]): Promise<void> {
    const unknown = this.#registry.unknown(tags, this.#ctx.now() - this.#interval)
    if (unknown.length === 0) return
    await Promise.all(unknown.map((tag) => this.#fetch(tag)))
  }

  #fetch(tag: string): Promise<void> {
    let pending = this.#fetches.get(tag)
    if (pending === undefined) {
      pending = this.#read(tag).finally(() => this.#fetches.delete(tag))
      this.#fetches.set(tag, pending)
    }
    return pending
  }

  async #read(tag: string): Promise<void> {
    const key = this.#key(tag)
    let at = 0
    for (const tier of this.#readFrom) {
      try {
        const entry = await this.#tiers.guard(tier, 'get', () => tier.store.get(key))
        if (entry !== undefined) {
          at = Number(this.#ctx.serializer.deserialize(entry.value as Uint8Array)) || 0
          break
        }
      } catch (error) {
        this.#ctx.reportError(error, 'get', tier, key)
      }
    }
    if (this.#registry.record(tag, at, this.#ctx.now())) this.#onOverflow()
  }

  /** Records an invalidation locally; returns true when the local tiers must be flushed. */
  record(tags: readonly string[], at: number): boolean {
    let overflow = false
    for (const tag of tags) overflow = this.#registry.record(tag, at) || overflow
    return overflow
  }

  /**
   * Writes the invalidation time of `tags` to every tier that keeps bytes, bottom first (shared
   * tiers tell other instances; a local file keeps it across restarts).
   */
  async write(tags: readonly string[], at: number): Promise<void> {
    const record: RemoteEntry = {
      value: this.#ctx.serializer.serialize(at),
      createdAt: at,
      freshUntil: NEVER,
      staleUntil: NEVER,
      tags: [],
    }
    const items = tags.map((tag) => [this.#key(tag), record] as const)
    await this.#tiers.each(
      [...this.#tiers.remote].reverse(),
      'invalidateTags',
      async (tier) => {
        if (tier.setMany) await tier.store.setMany!(items)
        else await Promise.all(items.map(([k, e]) => tier.store.set(k, e)))
      },
      { sequential: true },
    )
  }
}
