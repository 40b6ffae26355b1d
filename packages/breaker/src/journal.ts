import { compilePattern, parsePattern, patternPrefix, type StoreEntry } from '@tiercache/core/store'

/**
 * What the store must end up holding for one key once the journal is replayed: an entry
 * (`set`) or nothing (`delete`). `seq` orders intents: a higher one was issued later.
 *
 * @internal
 */
export type KeyIntent<V> =
  | { readonly type: 'set'; readonly seq: number; readonly entry: StoreEntry<V>; readonly bytes: number }
  | { readonly type: 'delete'; readonly seq: number; readonly bytes: number }

/**
 * A deletion of many keys at once: a namespace `clear` or a `deleteByPattern`.
 *
 * @internal
 */
export type RangeIntent =
  | {
      readonly type: 'clear'
      readonly seq: number
      readonly namespace: string
      readonly matches: (key: string) => boolean
    }
  | {
      readonly type: 'pattern'
      readonly seq: number
      readonly pattern: string
      readonly prefix: string
      readonly matches: (key: string) => boolean
    }

/** Most namespaces tracked for an overflow; past it an overflow clears everything (`clear('')`). */
const MAX_ROOTS = 64
/**
 * Most clears and pattern deletes kept apart. Each read of the journal tests a key against every
 * one of them, so past this many the journal overflows (collapses to namespace clears).
 */
export const MAX_RANGES = 256

/** Root namespace (first `:` segment) of a key or a literal prefix; `''` when there is none. */
function rootOf(text: string): string {
  const i = text.indexOf(':')
  return i > 0 ? text.slice(0, i) : ''
}

/**
 * Builds a range intent for `clear(namespace)`.
 *
 * @internal
 */
export function clearIntent(seq: number, namespace: string): RangeIntent {
  const prefix = `${namespace}:`
  return {
    type: 'clear',
    seq,
    namespace,
    matches: namespace === '' ? () => true : (key) => key.startsWith(prefix),
  }
}

/**
 * Builds a range intent for `deleteByPattern(pattern)`.
 *
 * @internal
 */
export function patternIntent(seq: number, pattern: string): RangeIntent {
  const tokens = parsePattern(pattern)
  return { type: 'pattern', seq, pattern, prefix: patternPrefix(tokens), matches: compilePattern(tokens) }
}

/** The root namespace a range touches (`''` when it may touch any key). */
function rangeRoot(range: RangeIntent): string {
  return range.type === 'clear' ? rootOf(`${range.namespace}:`) : rootOf(range.prefix)
}

/** True when every key `inner` deletes is also deleted by `outer`. */
function covers(outer: RangeIntent, inner: RangeIntent): boolean {
  if (outer.type === 'pattern') return inner.type === 'pattern' && inner.pattern === outer.pattern
  if (outer.namespace === '') return true
  const prefix = `${outer.namespace}:`
  return inner.type === 'clear'
    ? inner.namespace === outer.namespace || inner.namespace.startsWith(prefix)
    : inner.prefix.startsWith(prefix)
}

/** A consistent copy of the journal to replay: ranges first, then key intents. */
export interface JournalSnapshot<V> {
  /** Clears and pattern deletes, oldest first. */
  readonly ranges: readonly RangeIntent[]
  /** Per-key intents. Each is newer than every range that matches its key. */
  readonly keys: readonly (readonly [key: string, intent: KeyIntent<V>])[]
}

/** Resolved journal bounds. @internal */
export interface JournalLimits {
  readonly maxEntries: number
  readonly maxBytes: number
  readonly maxEntryBytes: number
}

/**
 * The replay journal: for each key the latest intent that could not reach the store, plus the
 * clears and pattern deletes that could not. A newer clear or pattern delete drops the key
 * intents it covers; a newer key intent replaces the older one. Bounded by entries and bytes;
 * past a bound it collapses to clears of every namespace it touched.
 *
 * Invariant: a key intent still in the journal is newer than every journaled range matching
 * its key, so replaying ranges first and key intents second reproduces the intended state.
 *
 * @internal
 */
export class Journal<V> {
  readonly #limits: JournalLimits
  readonly #keys = new Map<string, KeyIntent<V>>()
  #ranges: RangeIntent[] = []
  #bytes = 0
  #roots = new Set<string>()
  #overflows = 0

  /** @param limits - entry, byte and per-write bounds */
  constructor(limits: JournalLimits) {
    this.#limits = limits
  }

  /** Number of intents held (keys plus ranges). */
  get size(): number {
    return this.#keys.size + this.#ranges.length
  }

  /** Bytes of journaled writes plus key lengths. */
  get bytes(): number {
    return this.#bytes
  }

  /** How many times the journal overflowed and collapsed to namespace clears. */
  get overflows(): number {
    return this.#overflows
  }

  /**
   * Records that `key` should hold `entry`. Entries larger than `maxEntryBytes`, or of unknown
   * size, are recorded as deletes.
   *
   * @param seq - issue order of the failed or refused call
   * @param key - the key
   * @param entry - the entry the call wanted to write
   */
  recordSet(seq: number, key: string, entry: StoreEntry<V>): void {
    const size = entrySize(entry)
    if (size === undefined || size > this.#limits.maxEntryBytes) {
      this.recordDelete(seq, key)
      return
    }
    this.#recordKey(key, { type: 'set', seq, entry, bytes: size + key.length })
  }

  /**
   * Records that `key` should hold nothing.
   *
   * @param seq - issue order of the failed or refused call
   * @param key - the key
   */
  recordDelete(seq: number, key: string): void {
    this.#recordKey(key, { type: 'delete', seq, bytes: key.length })
  }

  /**
   * Records a clear or pattern delete.
   *
   * @param range - the intent (see {@link clearIntent}, {@link patternIntent})
   */
  recordRange(range: RangeIntent): void {
    for (const [key, intent] of this.#keys) {
      if (intent.seq < range.seq && range.matches(key)) this.#dropKey(key, intent)
    }
    this.#ranges = this.#ranges.filter((r) => !(r.seq < range.seq && covers(range, r)))
    if (!this.#ranges.some((r) => r.seq > range.seq && covers(r, range))) {
      this.#ranges.push(range)
      this.#ranges.sort((a, b) => a.seq - b.seq)
      this.#roots.add(rangeRoot(range))
    }
    this.#enforce(range.seq)
  }

  /**
   * True when the journal holds an intent for `key` newer than `seq` (so an older failed call
   * on that key must not be recorded over it).
   *
   * @param seq - issue order of the older call
   * @param key - the key
   */
  hasNewer(seq: number, key: string): boolean {
    const intent = this.#keys.get(key)
    if (intent !== undefined) return intent.seq > seq
    for (const r of this.#ranges) if (r.seq > seq && r.matches(key)) return true
    return false
  }

  /**
   * What the store will hold for `key` once replayed: the journaled entry, `null` for nothing,
   * or `undefined` when the journal says nothing about the key.
   *
   * @param key - the key
   */
  lookup(key: string): StoreEntry<V> | null | undefined {
    const intent = this.#keys.get(key)
    if (intent !== undefined) return intent.type === 'set' ? intent.entry : null
    for (const r of this.#ranges) if (r.matches(key)) return null
    return undefined
  }

  /** A copy of the current intents to replay; the journal keeps them until {@link Journal.settle}. */
  snapshot(): JournalSnapshot<V> {
    return { ranges: [...this.#ranges], keys: [...this.#keys] }
  }

  /**
   * Drops the ranges of a snapshot that were applied, unless a newer intent replaced them.
   *
   * @param ranges - ranges from {@link Journal.snapshot} that the store applied
   */
  settleRanges(ranges: readonly RangeIntent[]): void {
    const applied = new Set(ranges)
    this.#ranges = this.#ranges.filter((r) => !applied.has(r))
    this.#resetRootsIfEmpty()
  }

  /**
   * Drops the key intents of a snapshot that were applied, unless a newer intent replaced them.
   *
   * @param keys - key intents from {@link Journal.snapshot} that the store applied
   */
  settleKeys(keys: readonly (readonly [string, KeyIntent<V>])[]): void {
    for (const [key, intent] of keys) if (this.#keys.get(key) === intent) this.#dropKey(key, intent)
    this.#resetRootsIfEmpty()
  }

  /** Forgets everything (used when the store is closed). */
  reset(): void {
    this.#keys.clear()
    this.#ranges = []
    this.#bytes = 0
    this.#roots = new Set()
  }

  #recordKey(key: string, intent: KeyIntent<V>): void {
    if (this.hasNewer(intent.seq, key)) return
    const previous = this.#keys.get(key)
    if (previous !== undefined) this.#bytes -= previous.bytes
    this.#keys.set(key, intent)
    this.#bytes += intent.bytes
    this.#roots.add(rootOf(key))
    this.#enforce(intent.seq)
  }

  #dropKey(key: string, intent: KeyIntent<V>): void {
    this.#keys.delete(key)
    this.#bytes -= intent.bytes
  }

  #resetRootsIfEmpty(): void {
    if (this.size === 0) this.#roots = new Set()
  }

  /** Collapses to namespace clears when a bound is passed. */
  #enforce(seq: number): void {
    if (
      this.size <= this.#limits.maxEntries &&
      this.#bytes <= this.#limits.maxBytes &&
      this.#ranges.length <= MAX_RANGES
    ) {
      return
    }
    this.#overflows++
    let newest = seq
    for (const r of this.#ranges) if (r.seq > newest) newest = r.seq
    for (const k of this.#keys.values()) if (k.seq > newest) newest = k.seq
    // `<ns>#<kind>:…` keys are the engine's internal records about `<ns>` (tag invalidation
    // times): when they are dropped, the entries they govern are cleared too.
    for (const root of [...this.#roots]) {
      const hash = root.indexOf('#')
      if (hash > 0) this.#roots.add(root.slice(0, hash))
    }
    const maxRanges = Math.min(MAX_ROOTS, this.#limits.maxEntries)
    const roots = this.#roots.has('') || this.#roots.size > maxRanges ? [''] : [...this.#roots]
    this.#keys.clear()
    this.#bytes = 0
    this.#ranges = roots.map((root) => clearIntent(newest, root))
    this.#roots = new Set(roots)
  }
}

/** Serialized size of an entry: `size`, else the byte length of a byte value; `undefined` if unknown. */
function entrySize(entry: StoreEntry<unknown>): number | undefined {
  if (typeof entry.size === 'number') return entry.size
  return entry.value instanceof Uint8Array ? entry.value.byteLength : undefined
}
