/**
 * What an invalidation covers: keys, a predicate over keys (a pattern or a namespace prefix),
 * tags, or everything.
 */
export interface Scope {
  /** True when the invalidation covers a value stored under `rel` with `tags`. */
  covers(rel: string, tags: readonly string[]): boolean
}

/** Covers one key or a few keys. */
export function keysScope(rels: readonly string[]): Scope {
  if (rels.length === 1) {
    const only = rels[0] as string
    return { covers: (rel) => rel === only }
  }
  const set = new Set(rels)
  return { covers: (rel) => set.has(rel) }
}

/** Covers the keys a predicate accepts (a compiled pattern, a namespace prefix). */
export function matchScope(match: (rel: string) => boolean): Scope {
  return { covers: (rel) => match(rel) }
}

/** Covers values carrying any of `tags`. */
export function tagsScope(tags: readonly string[]): Scope {
  const set = new Set(tags)
  return {
    covers: (_rel, entryTags) => {
      for (let i = 0; i < entryTags.length; i++) if (set.has(entryTags[i] as string)) return true
      return false
    },
  }
}

/** Covers everything (a namespace clear, a flush after a bus gap). */
export const ALL: Scope = { covers: () => true }

/** An invalidation in flight. */
export interface Ticket {
  readonly scope: Scope
}

const LOG_SIZE = 4096

/**
 * The in-process write fence. An invalidation counts as in flight from {@link Fence.begin} until
 * {@link Fence.end} (its remote writes are done); a bus message is one that begins and ends at
 * once. A read notes {@link Fence.mark} when it starts; whatever it found may be written into a
 * tier only if {@link Fence.allows} says no invalidation covering the key was in flight at any time
 * since.
 *
 * Cost: a sequence number and a ring of the last 4,096 begins and ends. A read that is allowed
 * in the common case (nothing happened meanwhile) pays one comparison; a read older than the ring
 * is refused (its write is skipped, never wrong).
 */
export class Fence {
  #seq = 0
  /** Lowest sequence number still in the ring. */
  #floor = 1
  readonly #active = new Set<Ticket>()
  readonly #ring: (Scope | undefined)[] = new Array(LOG_SIZE)
  readonly #listeners: ((scope: Scope) => void)[] = []

  /** Calls `listener` with the scope of every invalidation that begins (flights mark themselves). */
  onBegin(listener: (scope: Scope) => void): void {
    this.#listeners.push(listener)
  }

  #log(scope: Scope): void {
    const seq = ++this.#seq
    this.#ring[seq % LOG_SIZE] = scope
    if (seq - this.#floor >= LOG_SIZE) this.#floor = seq - LOG_SIZE + 1
  }

  /** An invalidation starts. */
  begin(scope: Scope): Ticket {
    const ticket: Ticket = { scope }
    this.#active.add(ticket)
    this.#log(scope)
    for (const l of this.#listeners) l(scope)
    return ticket
  }

  /** An invalidation's writes are done. */
  end(ticket: Ticket): void {
    if (this.#active.delete(ticket)) this.#log(ticket.scope)
  }

  /** An invalidation that is over as soon as it starts (what a bus message did elsewhere). */
  instant(scope: Scope): void {
    this.end(this.begin(scope))
  }

  /** The position a read starts from. */
  mark(): number {
    return this.#seq
  }

  /** True when an invalidation covering `rel`/`tags` is in flight now. */
  activeCovers(rel: string, tags: readonly string[]): boolean {
    if (this.#active.size === 0) return false
    for (const t of this.#active) if (t.scope.covers(rel, tags)) return true
    return false
  }

  /**
   * True when no invalidation covering `rel`/`tags` was in flight at any time since `mark`: a
   * value read since then may be written into a tier.
   */
  allows(mark: number, rel: string, tags: readonly string[]): boolean {
    const seq = this.#seq
    if (mark === seq && this.#active.size === 0) return true
    if (this.activeCovers(rel, tags)) return false
    if (mark + 1 < this.#floor) return false
    for (let s = seq; s > mark; s--) {
      if ((this.#ring[s % LOG_SIZE] as Scope).covers(rel, tags)) return false
    }
    return true
  }
}
