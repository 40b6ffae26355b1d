import type { RangeIntent } from './journal.js'

/** A write the breaker let through: its issue order and the keys or range it touches. @internal */
export interface IssuedWrite {
  readonly seq: number
  readonly keys?: readonly string[] | undefined
  readonly range?: RangeIntent | undefined
}

/**
 * Remembers, while writes are in flight, which keys and ranges were written after which, so a
 * late failure of an older write is never journaled over a newer write of the same key. Kept
 * small: what no in-flight write can be older than is forgotten.
 *
 * @internal
 */
export class WriteOrder {
  /** Writes in flight by seq (insertion order is seq order). */
  readonly #inflight = new Map<number, true>()
  /** Latest seq issued per key. */
  readonly #keySeq = new Map<string, number>()
  /** Ranges issued. */
  #ranges: RangeIntent[] = []

  /** Notes that `write` was issued and is in flight. */
  track(write: IssuedWrite): void {
    this.#inflight.set(write.seq, true)
    if (write.range) this.#ranges.push(write.range)
    if (write.keys) {
      for (const key of write.keys) {
        const seen = this.#keySeq.get(key)
        if (seen === undefined || seen < write.seq) this.#keySeq.set(key, write.seq)
      }
    }
  }

  /** Notes that `write` settled; forgets what no write still in flight can be older than. */
  untrack(write: IssuedWrite): void {
    this.#inflight.delete(write.seq)
    if (this.#inflight.size === 0) {
      this.#keySeq.clear()
      this.#ranges = []
      return
    }
    if (this.#keySeq.size > 4 * this.#inflight.size + 256 || this.#ranges.length > 64) {
      const oldest = this.#inflight.keys().next().value as number
      for (const [key, seq] of this.#keySeq) if (seq < oldest) this.#keySeq.delete(key)
      this.#ranges = this.#ranges.filter((r) => r.seq >= oldest)
    }
  }

  /**
   * True when a write of `key` (or a range covering it) was issued after `seq`.
   *
   * @param seq - issue order of the older write
   * @param key - the key
   */
  newerThan(seq: number, key: string): boolean {
    const seen = this.#keySeq.get(key)
    if (seen !== undefined && seen > seq) return true
    return this.#ranges.some((r) => r.seq > seq && r.matches(key))
  }
}
