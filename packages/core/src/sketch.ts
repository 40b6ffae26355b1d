import { InvalidOptionError } from './errors.js'

const DEPTH = 4
const DOOR_HASHES = 3

/**
 * Estimates how often keys were read, in fixed memory whatever the number of distinct keys:
 * - a **doorkeeper** Bloom filter (`64 × width` bits) absorbs first reads, so the many keys read
 *   only once never reach the counters;
 * - a **count-min sketch** (4 rows × `width` 8-bit counters, conservative update) counts repeat
 *   reads; estimates never undercount and saturate at 255.
 * Memory: `12 × width` bytes — 768 KiB at the default width of 65,536.
 * {@link FrequencySketch.age} halves every counter and empties the doorkeeper, so old reads fade.
 */
export class FrequencySketch {
  readonly #width: number
  readonly #mask: number
  readonly #table: Uint8Array
  readonly #door: Uint32Array
  readonly #doorMask: number

  /**
   * @param width - counters per row, rounded up to a power of two (16 to 2^24)
   * @default width 65_536 (768 KiB in total)
   */
  constructor(width = 65_536) {
    if (!Number.isInteger(width) || width < 16 || width > 2 ** 24) {
      throw new InvalidOptionError('sketchWidth must be an integer between 16 and 16,777,216', {
        option: 'sketchWidth',
      })
    }
    let w = 16
    while (w < width) w *= 2
    this.#width = w
    this.#mask = w - 1
    this.#table = new Uint8Array(w * DEPTH)
    const doorBits = w * 64
    this.#door = new Uint32Array(doorBits / 32)
    this.#doorMask = doorBits - 1
  }

  /** Bytes used (counters plus doorkeeper). */
  get bytes(): number {
    return this.#table.byteLength + this.#door.byteLength
  }

  /** Records a read and returns the key's estimated read count (at least the true count). */
  increment(key: string): number {
    const h1 = fnv1a(key)
    const h2 = mix(h1)
    if (!this.#doorAdd(h1, h2)) return 1
    const t = this.#table
    const w = this.#width
    const m = this.#mask
    let min = 255
    for (let i = 0; i < DEPTH; i++) {
      const v = t[i * w + ((h1 + Math.imul(i, h2)) & m)] as number
      if (v < min) min = v
    }
    if (min < 255) {
      // Conservative update: raise only the counters at the minimum.
      for (let i = 0; i < DEPTH; i++) {
        const idx = i * w + ((h1 + Math.imul(i, h2)) & m)
        if (t[idx] === min) t[idx] = min + 1
      }
      min++
    }
    return min + 1
  }

  /** The key's estimated read count since the last aging (never below the true count). */
  estimate(key: string): number {
    const h1 = fnv1a(key)
    const h2 = mix(h1)
    if (!this.#doorHas(h1, h2)) return 0
    let min = 255
    for (let i = 0; i < DEPTH; i++) {
      const v = this.#table[i * this.#width + ((h1 + Math.imul(i, h2)) & this.#mask)] as number
      if (v < min) min = v
    }
    return min + 1
  }

  /** Halves every counter and empties the doorkeeper: reads from before fade away. */
  age(): void {
    const t = this.#table
    for (let i = 0; i < t.length; i++) t[i] = (t[i] as number) >>> 1
    this.#door.fill(0)
  }

  /** Sets the key's doorkeeper bits; true when they were all set already (a repeat read). */
  #doorAdd(h1: number, h2: number): boolean {
    let seen = true
    for (let i = 0; i < DOOR_HASHES; i++) {
      const bit = (h2 + Math.imul(i + 1, h1 ^ 0x5bd1e995)) & this.#doorMask
      const word = bit >>> 5
      const mask = 1 << (bit & 31)
      const d = this.#door[word] as number
      if ((d & mask) === 0) {
        seen = false
        this.#door[word] = d | mask
      }
    }
    return seen
  }

  #doorHas(h1: number, h2: number): boolean {
    for (let i = 0; i < DOOR_HASHES; i++) {
      const bit = (h2 + Math.imul(i + 1, h1 ^ 0x5bd1e995)) & this.#doorMask
      if (((this.#door[bit >>> 5] as number) & (1 << (bit & 31))) === 0) return false
    }
    return true
  }
}

function mix(h: number): number {
  let x = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35)
  return (x ^ (x >>> 16)) | 1
}

/** 32-bit FNV-1a over UTF-16 code units. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}
