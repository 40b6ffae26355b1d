/**
 * How often keys were used recently, in fixed memory: a count-min sketch of four rows of counters
 * of 4 bits (saturating at 15, two per byte), in front of which a doorkeeper Bloom
 * filter absorbs the first use of a key, so the many keys used once never reach the counters.
 * After a number of increments proportional to the width, every counter is halved and the doorkeeper emptied (aging), so the
 * estimate follows the recent workload.
 *
 * Private to this package. Core's warming keeps its own sketch (8-bit counters, one per hot-key
 * detector); the two share the idea, not the code, because this one is driven by precomputed
 * hashes on the hit path and grows with the number of entries.
 */
export class FrequencySketch {
  #table: Uint8Array
  #door: Int32Array
  #mask = 0
  #doorMask = 0
  #additions = 0
  #sampleSize = 0
  /** Counters per row (a power of two). */
  width = 0
  readonly #agingFactor: number

  /**
   * @param width - counters per row, rounded up to a power of two (at least 16)
   * @param agingFactor - increments per counter of a row between agings
   */
  constructor(width: number, agingFactor: number) {
    this.#agingFactor = agingFactor
    this.#table = new Uint8Array(0)
    this.#door = new Int32Array(0)
    this.resize(width)
  }

  /** Reallocates for `width` counters per row (rounded up to a power of two); forgets everything. */
  resize(width: number): void {
    let w = 16
    while (w < width) w *= 2
    this.width = w
    this.#mask = w - 1
    // Two 4-bit counters per byte.
    this.#table = new Uint8Array(w * 2)
    // Doorkeeper: 8 bits per counter of a row, two probes per key.
    this.#door = new Int32Array(w / 4)
    this.#doorMask = w * 8 - 1
    this.#additions = 0
    this.#sampleSize = Math.round(this.#agingFactor * w)
  }

  /** Bytes held by the counters and the doorkeeper. */
  get bytes(): number {
    return this.#table.byteLength + this.#door.byteLength
  }

  /** Records one use of the key with hash `h` (from {@link hashKey}). */
  increment(h: number): void {
    const door = this.#door
    const d1 = h & this.#doorMask
    const d2 = (h >>> 11) & this.#doorMask
    const w1 = door[d1 >>> 5] as number
    const w2 = door[d2 >>> 5] as number
    const b1 = 1 << (d1 & 31)
    const b2 = 1 << (d2 & 31)
    if ((w1 & b1) === 0 || (w2 & b2) === 0) {
      door[d1 >>> 5] = w1 | b1
      door[d2 >>> 5] = (door[d2 >>> 5] as number) | b2
    } else {
      const t = this.#table
      const m = this.#mask
      const w = this.width
      const g = rehash(h)
      // Counter c of the table is the nibble (c & 1) of byte c >>> 1.
      const c0 = h & m
      const c1 = w + (g & m)
      const c2 = 2 * w + ((h + g) & m)
      const c3 = 3 * w + ((h + 2 * g) & m)
      const added = bump(t, c0) | bump(t, c1) | bump(t, c2) | bump(t, c3)
      if (added === 0) return
    }
    if (++this.#additions >= this.#sampleSize) this.#age()
  }

  /** Estimated uses of the key with hash `h` since the last agings (0 to 16). */
  frequency(h: number): number {
    const door = this.#door
    const d1 = h & this.#doorMask
    const d2 = (h >>> 11) & this.#doorMask
    if (((door[d1 >>> 5] as number) & (1 << (d1 & 31))) === 0) return 0
    if (((door[d2 >>> 5] as number) & (1 << (d2 & 31))) === 0) return 0
    const t = this.#table
    const m = this.#mask
    const w = this.width
    const g = rehash(h)
    let min = nibble(t, h & m)
    const v1 = nibble(t, w + (g & m))
    if (v1 < min) min = v1
    const v2 = nibble(t, 2 * w + ((h + g) & m))
    if (v2 < min) min = v2
    const v3 = nibble(t, 3 * w + ((h + 2 * g) & m))
    if (v3 < min) min = v3
    return min + 1
  }

  /** Halves every counter and empties the doorkeeper. */
  #age(): void {
    const t = this.#table
    for (let i = 0; i < t.length; i++) t[i] = ((t[i] as number) >>> 1) & 0x77
    this.#door.fill(0)
    this.#additions = this.#additions >>> 1
  }
}

/** Counter `c` (4 bits) of the table. */
function nibble(t: Uint8Array, c: number): number {
  return ((t[c >>> 1] as number) >>> ((c & 1) << 2)) & 15
}

/** Adds 1 to counter `c` unless it is saturated (15); 1 when it was added, else 0. */
function bump(t: Uint8Array, c: number): number {
  const i = c >>> 1
  const shift = (c & 1) << 2
  const v = t[i] as number
  if (((v >>> shift) & 15) === 15) return 0
  t[i] = v + (1 << shift)
  return 1
}

/** A second, odd index stride from an already well-mixed hash (a rotation: no multiplication). */
function rehash(h: number): number {
  return (h >>> 17) | (h << 15) | 1
}

/** A well-mixed 32-bit hash of a key (FNV-1a over UTF-16 code units, then a finalizer). */
export function hashKey(key: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d)
  h = Math.imul(h ^ (h >>> 12), 0x297a2d39)
  return (h ^ (h >>> 15)) | 0
}
