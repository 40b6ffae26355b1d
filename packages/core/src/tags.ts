import { InvalidOptionError } from './errors.js'
import { isPortableText, portabilityProblem } from './keys.js'

/** Most tags one entry may carry. */
export const MAX_TAGS_PER_ENTRY = 64
/** Longest tag, in characters. */
export const MAX_TAG_LENGTH = 256

const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * Checks a tag list: an array of at most 64 non-empty strings of at most 256 characters, each
 * well-formed UTF-16 without NUL (tags become keys of invalidation records in every shared
 * tier). Duplicates are removed.
 *
 * @throws InvalidOptionError (`E_INVALID_OPTION`)
 */
export function normalizeTags(tags: unknown, option = 'tags'): readonly string[] {
  if (tags === undefined) return NO_TAGS
  if (!Array.isArray(tags)) throw new InvalidOptionError(`${option} must be an array of strings`, { option })
  if (tags.length === 0) return NO_TAGS
  if (tags.length > MAX_TAGS_PER_ENTRY) {
    throw new InvalidOptionError(`at most ${MAX_TAGS_PER_ENTRY} ${option} per call`, { option })
  }
  for (const tag of tags) {
    if (typeof tag !== 'string' || tag.length === 0 || tag.length > MAX_TAG_LENGTH) {
      throw new InvalidOptionError(
        `each of ${option} must be a non-empty string of at most ${MAX_TAG_LENGTH} characters`,
        {
          option,
        },
      )
    }
    if (!isPortableText(tag)) {
      throw new InvalidOptionError(`a tag ${portabilityProblem(tag)}`, { option })
    }
  }
  return tags.length === 1 ? [tags[0] as string] : [...new Set(tags as string[])]
}

interface TagTime {
  /** Invalidation time (epoch ms); 0 = never invalidated as far as we know. */
  at: number
  /** When this knowledge was read from a shared tier (epoch ms); Infinity = learned locally or from the bus. */
  checkedAt: number
}

/**
 * Lazy tag invalidation: `invalidateTags` records a time per tag; an entry is invalid when one
 * of its tags was invalidated at or after the entry's `createdAt`. Cost: one Map lookup per tag
 * on a read of a tagged entry; one write per shared tier and one bus message per invalidation.
 *
 * Ordering inside one process is exact even within a millisecond: creation times handed out
 * after an invalidation are bumped past it, and invalidation times cover any bumped creation.
 */
export class TagRegistry {
  readonly #times = new Map<string, TagTime>()
  #lastInvalidation = 0
  #maxCreated = 0
  readonly #maxTracked: number

  /** @param maxTracked - most tags tracked before old knowledge is dropped */
  constructor(maxTracked: number) {
    this.#maxTracked = maxTracked
  }

  /** Number of tags tracked. */
  get size(): number {
    return this.#times.size
  }

  /** A creation time for a new entry that sorts after every invalidation seen so far. */
  createdAt(now: number): number {
    if (now > this.#lastInvalidation) return now
    const bumped = this.#lastInvalidation + 1
    if (bumped > this.#maxCreated) this.#maxCreated = bumped
    return bumped
  }

  /** An invalidation time that sorts after every creation handed out so far. */
  invalidationAt(now: number): number {
    return Math.max(now, this.#maxCreated)
  }

  /**
   * A time that sorts after every creation time handed out so far, and before every one handed
   * out from now on (the local-tier horizon after a bus gap).
   */
  fence(now: number): number {
    const at = this.invalidationAt(now)
    if (at > this.#lastInvalidation) this.#lastInvalidation = at
    return at
  }

  /** True unless one of the entry's tags was invalidated at or after `createdAt`. Sync; no I/O. */
  isValid(tags: readonly string[], createdAt: number): boolean {
    for (let i = 0; i < tags.length; i++) {
      const t = this.#times.get(tags[i] as string)
      if (t !== undefined && t.at >= createdAt) return false
    }
    return true
  }

  /** Tags whose time is unknown, or was read from a shared tier before `staleBefore`. */
  unknown(tags: readonly string[], staleBefore: number): string[] {
    let out: string[] | undefined
    for (const tag of tags) {
      const t = this.#times.get(tag)
      if (t === undefined || t.checkedAt < staleBefore) {
        out ??= []
        out.push(tag)
      }
    }
    return out ?? []
  }

  /**
   * Records an invalidation time (the later one wins).
   * @param checkedAt - when read from a shared tier; omit for local and bus knowledge (trusted)
   * @returns true when the tracked set overflowed and the caller must flush local tiers
   */
  record(tag: string, at: number, checkedAt: number = Number.POSITIVE_INFINITY): boolean {
    const prev = this.#times.get(tag)
    if (prev === undefined) {
      this.#times.set(tag, { at, checkedAt })
    } else {
      if (at > prev.at) prev.at = at
      prev.checkedAt = checkedAt
    }
    if (at > this.#lastInvalidation) this.#lastInvalidation = at
    return this.#times.size > this.#maxTracked && this.#shrink()
  }

  /** Forgets everything (after a flush of the local tiers). */
  clear(): void {
    this.#times.clear()
  }

  /**
   * Drops knowledge that is safe to drop (tags never invalidated). Returns true when that was
   * not enough: the caller must flush local tiers, after which all knowledge can go.
   */
  #shrink(): boolean {
    for (const [tag, t] of this.#times) if (t.at === 0) this.#times.delete(tag)
    if (this.#times.size <= this.#maxTracked) return false
    this.#times.clear()
    return true
  }
}
