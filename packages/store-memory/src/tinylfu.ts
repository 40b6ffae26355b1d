import { FrequencySketch, hashKey } from './frequency-sketch.js'
import {
  ADMIT_JITTER_THRESHOLD,
  AGING_FACTOR,
  DITHER,
  INITIAL_SKETCH_ENTRIES,
  INITIAL_WINDOW,
  MAX_SKETCH_ENTRIES,
  MIN_PHASE,
  MIN_SHADOW_SHIFT,
  MIN_STEP,
  PHASE_FACTOR,
  PHASES_PER_DECISION,
  PROTECTED_SHARE,
  REGIME_MARGIN,
  SHADOW_ENTRIES,
  SKETCH_SCALE,
  STEP,
  STEP_DECAY,
  type TinyLfuState,
} from './tinylfu-tuning.js'

const WINDOW = 0
const PROBATION = 1
const PROTECTED = 2
const SENTINEL = -1

/**
 * Window TinyLFU with an adaptive window, after Caffeine: new keys enter a small LRU admission
 * window; keys leaving it compete for the main space (a segmented LRU: probation and protected)
 * against the main space's victim, and the less frequently used one, by a count-min sketch with
 * a doorkeeper and periodic aging, is evicted. The window size is tuned online by hill climbing
 * on the hit ratio: the window alternates a little above and below its setting in phases of
 * requests, and the setting moves towards the side whose phases hit more. Caffeine compares
 * successive samples instead; paired phases cancel the drift of the workload itself, which
 * successive samples read as the effect of the last step.
 *
 * Both bounds are exact after every write: total bytes ≤ `maxBytes` and entries ≤ `maxEntries`.
 */
export class WindowTinyLfu<V> {
  readonly maxBytes: number
  readonly maxEntries: number
  /** Evictions (not deletes) so far. */
  evictions = 0

  // Entries live in slots of parallel arrays (like lru-cache): a key's slot is in #map; slots 0,
  // 1 and 2 are the heads of the window, probation and protected queues (circular lists).
  readonly #map = new Map<string, number>()
  #keys: (string | undefined)[] = []
  #values: (V | undefined)[] = []
  #next: Int32Array
  #prev: Int32Array
  #queue: Int8Array
  #size: Float64Array
  #hash: Int32Array
  #free: number[] = []
  #top = 3
  readonly #maxSlots: number
  readonly #sized: boolean
  readonly #capacity: number
  readonly #maxSketchWidth: number
  readonly #sketch: FrequencySketch
  #bytes = 0
  #windowWeight = 0
  #probationWeight = 0
  #protectedWeight = 0
  #windowMax: number
  #protectedMax: number
  #random = 0x9e3779b9
  // Hill climbing: requests of the current phase, the phase's sign, and what the phases saw.
  #hits = 0
  #misses = 0
  #phaseLength = MIN_PHASE
  #phase = 1
  #phases = 0
  #upHits = 0
  #upRequests = 0
  #downHits = 0
  #downRequests = 0
  // Regime shadows: a pure LRU and a 1 %-window W-TinyLFU over a hash sample of the keys.
  readonly #shadowLru: WindowTinyLfu<number> | null = null
  readonly #shadowLfu: WindowTinyLfu<number> | null = null
  readonly #shadowMask: number = 0
  readonly #shadowPeriod: number = 0
  #shadowRequests = 0
  #shadowLruHits = 0
  #shadowLfuHits = 0
  #shadowHits = 0
  /** The window setting (the dither moves the real window around it), in weight units. */
  #setting: number
  #step: number

  /**
   * @param maxBytes - byte bound (`Infinity` when only `maxEntries` applies)
   * @param maxEntries - entry bound (`Infinity` when only `maxBytes` applies)
   * @param fixedWindow - for the shadows: a fixed window share, no adaptation
   */
  constructor(maxBytes: number, maxEntries: number, fixedWindow?: number) {
    this.maxBytes = maxBytes
    this.maxEntries = maxEntries
    this.#sized = Number.isFinite(maxBytes)
    this.#capacity = this.#sized ? maxBytes : maxEntries
    this.#windowMax = this.#capacity * (fixedWindow ?? INITIAL_WINDOW)
    this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    this.#setting = this.#windowMax
    this.#step = STEP * this.#capacity
    // One slot more than the bound: a new entry is linked before the eviction that makes room.
    this.#maxSlots = Number.isFinite(maxEntries) ? maxEntries + 4 : 2 ** 31 - 1
    const slots = Math.min(this.#maxSlots, 1024)
    this.#next = new Int32Array(slots)
    this.#prev = new Int32Array(slots)
    this.#queue = new Int8Array(slots)
    this.#size = new Float64Array(slots)
    this.#hash = new Int32Array(slots)
    for (let head = 0; head < 3; head++) {
      this.#next[head] = head
      this.#prev[head] = head
      this.#queue[head] = SENTINEL
    }
    this.#maxSketchWidth = Math.min(maxEntries, MAX_SKETCH_ENTRIES) * SKETCH_SCALE
    this.#sketch = new FrequencySketch(
      Math.min(this.#maxSketchWidth, INITIAL_SKETCH_ENTRIES * SKETCH_SCALE),
      AGING_FACTOR / SKETCH_SCALE,
    )
    if (fixedWindow !== undefined) this.#phaseLength = Number.POSITIVE_INFINITY
    else if (Number.isFinite(maxEntries)) {
      // Shadows sample 1 key in 2^shift; sized like the store, scaled down by the same share.
      let shift = MIN_SHADOW_SHIFT
      while (maxEntries / 2 ** shift > SHADOW_ENTRIES && shift < 24) shift++
      const entries = Math.max(16, Math.round(maxEntries / 2 ** shift))
      this.#shadowMask = 2 ** shift - 1
      this.#shadowLru = new WindowTinyLfu<number>(Number.POSITIVE_INFINITY, entries, 1)
      this.#shadowLfu = new WindowTinyLfu<number>(Number.POSITIVE_INFINITY, entries, INITIAL_WINDOW)
      this.#shadowPeriod = Math.max(1000, entries)
    }
  }

  /** Entries held. */
  get size(): number {
    return this.#map.size
  }

  /** Bytes held (the sum of the entries' sizes). */
  get bytes(): number {
    return this.#bytes
  }

  /** The segment sizes, for tests and diagnostics. */
  get state(): TinyLfuState {
    return {
      windowMax: this.#windowMax,
      protectedMax: this.#protectedMax,
      capacity: this.#capacity,
      window: this.#windowWeight,
      probation: this.#probationWeight,
      protected: this.#protectedWeight,
      sketchWidth: this.#sketch.width,
    }
  }

  /** Estimated recent uses of a key (0 when never seen or aged out). */
  frequency(key: string): number {
    return this.#sketch.frequency(hashKey(key))
  }

  /** The value, recording the use (frequency and recency); `undefined` when absent. */
  get(key: string): V | undefined {
    const i = this.#map.get(key)
    if (i === undefined) {
      this.#misses++
      if (this.#shadowLru !== null && (hashKey(key) & this.#shadowMask) === 0) this.#sample(key, 0)
      return undefined
    }
    this.#hits++
    const hash = this.#hash[i] as number
    if ((hash & this.#shadowMask) === 0 && this.#shadowLru !== null) this.#sample(key, 1)
    this.#sketch.increment(hash)
    this.#onAccess(i)
    return this.#values[i]
  }

  /** The value without recording a use. */
  peek(key: string): V | undefined {
    const i = this.#map.get(key)
    return i === undefined ? undefined : this.#values[i]
  }

  /** Keys held, in no particular order. */
  keys(): IterableIterator<string> {
    return this.#map.keys()
  }

  #weight(i: number): number {
    return this.#sized ? (this.#size[i] as number) : 1
  }

  #addWeight(q: number, w: number): void {
    if (q === WINDOW) this.#windowWeight += w
    else if (q === PROBATION) this.#probationWeight += w
    else this.#protectedWeight += w
  }

  /**
   * Stores a value of `size` bytes (at least 1), then evicts until both bounds hold. The new
   * entry itself may be evicted at once when the policy does not admit it.
   */
  set(key: string, value: V, size: number): void {
    const found = this.#map.get(key)
    if (found !== undefined) {
      this.#values[found] = value
      const old = this.#size[found] as number
      this.#bytes += size - old
      if (this.#sized && size !== old) this.#addWeight(this.#queue[found] as number, size - old)
      this.#size[found] = size
      this.#sketch.increment(this.#hash[found] as number)
      this.#onAccess(found)
      this.#evict()
      return
    }
    const hash = hashKey(key)
    let i = this.#free.pop()
    if (i === undefined) {
      if (this.#top === this.#next.length) this.#grow()
      i = this.#top++
    }
    this.#keys[i] = key
    this.#values[i] = value
    this.#size[i] = size
    this.#hash[i] = hash
    this.#queue[i] = WINDOW
    this.#map.set(key, i)
    this.#append(WINDOW, i)
    this.#windowWeight += this.#sized ? size : 1
    this.#bytes += size
    const sketch = this.#sketch
    if (this.#map.size * SKETCH_SCALE > sketch.width && sketch.width < this.#maxSketchWidth) {
      // Grown (and so emptied) only while the store fills, each time the entries double.
      sketch.resize(Math.min(this.#map.size * SKETCH_SCALE, this.#maxSketchWidth))
    }
    sketch.increment(hash)
    this.#evict()
    if (this.#hits + this.#misses >= this.#phaseLength) this.#climb()
  }

  /** Doubles the slot arrays (never past the entry bound). */
  #grow(): void {
    const n = Math.min(this.#maxSlots, this.#next.length * 2)
    const next = new Int32Array(n)
    next.set(this.#next)
    this.#next = next
    const prev = new Int32Array(n)
    prev.set(this.#prev)
    this.#prev = prev
    const queue = new Int8Array(n)
    queue.set(this.#queue)
    this.#queue = queue
    const size = new Float64Array(n)
    size.set(this.#size)
    this.#size = size
    const hash = new Int32Array(n)
    hash.set(this.#hash)
    this.#hash = hash
  }

  /** Removes a key; `true` when it was held. */
  delete(key: string): boolean {
    const i = this.#map.get(key)
    if (i === undefined) return false
    this.#remove(i)
    return true
  }

  /** Removes every entry (the frequency history stays). */
  clear(): void {
    this.#map.clear()
    for (let head = 0; head < 3; head++) {
      this.#next[head] = head
      this.#prev[head] = head
    }
    this.#keys = []
    this.#values = []
    this.#free = []
    this.#top = 3
    this.#bytes = 0
    this.#windowWeight = 0
    this.#probationWeight = 0
    this.#protectedWeight = 0
  }

  #append(head: number, i: number): void {
    const last = this.#prev[head] as number
    this.#prev[i] = last
    this.#next[i] = head
    this.#next[last] = i
    this.#prev[head] = i
  }

  #unlink(i: number): void {
    const p = this.#prev[i] as number
    const n = this.#next[i] as number
    this.#next[p] = n
    this.#prev[n] = p
  }

  /** The least recently used slot of a queue, or -1. */
  #first(head: number): number {
    const n = this.#next[head] as number
    return n === head ? -1 : n
  }

  /** The next slot towards the queue's most recently used end, or -1. */
  #after(i: number): number {
    const n = this.#next[i] as number
    return n < 3 ? -1 : n
  }

  #onAccess(i: number): void {
    const q = this.#queue[i] as number
    this.#unlink(i)
    if (q === PROBATION) {
      const w = this.#weight(i)
      if (w > this.#protectedMax) {
        this.#append(PROBATION, i)
        return
      }
      this.#probationWeight -= w
      this.#queue[i] = PROTECTED
      this.#append(PROTECTED, i)
      this.#protectedWeight += w
      if (this.#protectedWeight > this.#protectedMax) this.#demoteFromProtected()
    } else {
      this.#append(q, i)
    }
  }

  #demoteFromProtected(): void {
    while (this.#protectedWeight > this.#protectedMax) {
      const i = this.#first(PROTECTED)
      if (i < 0) return
      const w = this.#weight(i)
      this.#unlink(i)
      this.#protectedWeight -= w
      this.#queue[i] = PROBATION
      this.#append(PROBATION, i)
      this.#probationWeight += w
    }
  }

  #over(): boolean {
    return this.#bytes > this.maxBytes || this.#map.size > this.maxEntries
  }

  #evict(): void {
    // Move the window's overflow to the end of probation: these are the candidates.
    let candidate = -1
    while (this.#windowWeight > this.#windowMax) {
      const i = this.#first(WINDOW)
      if (i < 0) break
      const w = this.#weight(i)
      this.#unlink(i)
      this.#windowWeight -= w
      this.#queue[i] = PROBATION
      this.#append(PROBATION, i)
      this.#probationWeight += w
      if (candidate < 0) candidate = i
    }
    if (!this.#over()) return
    this.#evictFromMain(candidate)
  }

  /** Caffeine's eviction: the first candidate against probation's LRU end, loser goes, repeat. */
  #evictFromMain(first: number): void {
    let candidate = first
    let candidateQueue = PROBATION
    let victimQueue = PROBATION
    let victim = this.#first(PROBATION)
    while (this.#over()) {
      if (candidate < 0 && candidateQueue === PROBATION) {
        candidate = this.#first(WINDOW)
        candidateQueue = WINDOW
      }
      if (candidate < 0 && victim < 0) {
        if (victimQueue === PROBATION) {
          victim = this.#first(PROTECTED)
          victimQueue = PROTECTED
          continue
        }
        if (victimQueue === PROTECTED) {
          victim = this.#first(WINDOW)
          victimQueue = WINDOW
          continue
        }
        return
      }
      if (victim < 0) {
        const evict = candidate
        candidate = this.#after(evict)
        this.#evictSlot(evict)
        continue
      }
      if (candidate < 0) {
        const evict = victim
        victim = this.#after(evict)
        this.#evictSlot(evict)
        continue
      }
      if (candidate === victim) {
        victim = this.#after(victim)
        this.#evictSlot(candidate)
        candidate = -1
        continue
      }
      if (this.#weight(candidate) > this.#capacity || !this.#admit(candidate, victim)) {
        const evict = candidate
        candidate = this.#after(evict)
        this.#evictSlot(evict)
      } else {
        const evict = victim
        victim = this.#after(evict)
        this.#evictSlot(evict)
        candidate = this.#after(candidate)
      }
    }
  }

  #admit(candidate: number, victim: number): boolean {
    const c = this.#sketch.frequency(this.#hash[candidate] as number)
    const v = this.#sketch.frequency(this.#hash[victim] as number)
    if (c > v) return true
    if (c >= ADMIT_JITTER_THRESHOLD) {
      // xorshift32: deterministic, so replays and tests repeat exactly.
      let x = this.#random
      x ^= x << 13
      x ^= x >>> 17
      x ^= x << 5
      this.#random = x
      return (x & 127) === 0
    }
    return false
  }

  #evictSlot(i: number): void {
    this.#remove(i)
    this.evictions++
  }

  #remove(i: number): void {
    this.#unlink(i)
    this.#addWeight(this.#queue[i] as number, -this.#weight(i))
    this.#bytes -= this.#size[i] as number
    this.#map.delete(this.#keys[i] as string)
    this.#keys[i] = undefined
    this.#values[i] = undefined
    this.#free.push(i)
  }

  /**
   * Hill climbing, at the end of each phase of requests: alternate phases run the window
   * `DITHER` above and below its setting; after `PHASES_PER_DECISION` phases the setting moves
   * one step towards the side that hit more (the step shrinks on each reversal). Nothing moves
   * before the first eviction: while the store fills, every policy hits alike.
   */
  #climb(): void {
    const requests = this.#hits + this.#misses
    this.#phaseLength = Math.max(MIN_PHASE, this.#map.size * PHASE_FACTOR)
    if (this.evictions === 0) {
      this.#hits = 0
      this.#misses = 0
      return
    }
    if (this.#phase > 0) {
      this.#upHits += this.#hits
      this.#upRequests += requests
    } else {
      this.#downHits += this.#hits
      this.#downRequests += requests
    }
    this.#hits = 0
    this.#misses = 0
    this.#phase = -this.#phase
    const capacity = this.#capacity
    const dither = DITHER * capacity
    if (++this.#phases >= PHASES_PER_DECISION) {
      const up = this.#upHits / this.#upRequests
      const down = this.#downHits / this.#downRequests
      const move = up > down ? 1 : down > up ? -1 : 0
      if (move !== 0) {
        let step = this.#step
        if (Math.sign(step) !== move) step = -step * STEP_DECAY
        step = move * Math.max(Math.abs(step), MIN_STEP * capacity)
        this.#step = step
        this.#setting = Math.min(capacity - dither, Math.max(dither, this.#setting + step))
      }
      this.#phases = 0
      this.#upHits = 0
      this.#upRequests = 0
      this.#downHits = 0
      this.#downRequests = 0
    }
    const target = Math.min(capacity, Math.max(0, this.#setting + this.#phase * dither))
    if (target > this.#windowMax) this.#increaseWindow(target - this.#windowMax)
    else if (target < this.#windowMax) this.#decreaseWindow(this.#windowMax - target)
    this.#demoteFromProtected()
  }

  /**
   * Replays a sampled access in both shadows; at the end of each shadow period, when one regime
   * leads the other by `REGIME_MARGIN`, the window setting jumps to that regime (near 100 % for
   * recency, back to 1 % for frequency). Hill climbing only sees the local slope, and between the
   * two regimes the hit ratio often dips, so it cannot cross from one to the other by itself.
   */
  #sample(key: string, hit: number): void {
    this.#shadowHits += hit
    const lru = this.#shadowLru as WindowTinyLfu<number>
    const lfu = this.#shadowLfu as WindowTinyLfu<number>
    if (lru.get(key) === undefined) lru.set(key, 1, 1)
    else this.#shadowLruHits++
    if (lfu.get(key) === undefined) lfu.set(key, 1, 1)
    else this.#shadowLfuHits++
    if (++this.#shadowRequests < this.#shadowPeriod) return
    const lruRatio = this.#shadowLruHits / this.#shadowRequests
    const lfuRatio = this.#shadowLfuHits / this.#shadowRequests
    const ratio = this.#shadowHits / this.#shadowRequests
    this.#shadowHits = 0
    this.#shadowRequests = 0
    this.#shadowLruHits = 0
    this.#shadowLfuHits = 0
    if (this.evictions === 0 || lru.evictions === 0) return
    const capacity = this.#capacity
    const half = capacity / 2
    if (lruRatio > Math.max(lfuRatio, ratio) + REGIME_MARGIN && this.#setting < half) {
      this.#setting = capacity - DITHER * capacity
      this.#step = -STEP * capacity
    } else if (lfuRatio > Math.max(lruRatio, ratio) + REGIME_MARGIN && this.#setting > half) {
      this.#setting = Math.max(DITHER * capacity, INITIAL_WINDOW * capacity)
      this.#step = STEP * capacity
    }
  }

  #increaseWindow(amount: number): void {
    let quota = Math.min(amount, this.#capacity - this.#windowMax)
    if (quota <= 0) return
    this.#windowMax += quota
    this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    this.#demoteFromProtected()
    // Fill the window at once from the main space's least recently used entries.
    while (quota > 0) {
      let i = this.#first(PROBATION)
      if (i < 0 || this.#weight(i) > quota) i = this.#first(PROTECTED)
      if (i < 0 || this.#weight(i) > quota) break
      const w = this.#weight(i)
      quota -= w
      this.#unlink(i)
      if (this.#queue[i] === PROBATION) this.#probationWeight -= w
      else this.#protectedWeight -= w
      this.#queue[i] = WINDOW
      this.#append(WINDOW, i)
      this.#windowWeight += w
    }
    // Give back what could not be moved (the main space is not that full yet).
    if (quota > 0) {
      this.#windowMax -= quota
      this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    }
  }

  #decreaseWindow(amount: number): void {
    let quota = Math.min(amount, Math.max(0, this.#windowMax - 1))
    if (quota <= 0) return
    this.#windowMax -= quota
    this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    while (quota > 0) {
      const i = this.#first(WINDOW)
      if (i < 0) break
      const w = this.#weight(i)
      if (w > quota) break
      quota -= w
      this.#unlink(i)
      this.#windowWeight -= w
      this.#queue[i] = PROBATION
      this.#append(PROBATION, i)
      this.#probationWeight += w
    }
    if (quota > 0) {
      this.#windowMax += quota
      this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    }
  }
}
export type { TinyLfuState } from './tinylfu-tuning.js'
