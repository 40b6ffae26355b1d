import { FrequencySketch, hashKey } from './frequency-sketch.js'

const WINDOW = 0
const PROBATION = 1
const PROTECTED = 2
const SENTINEL = -1

/** Counters per sketch row per entry the store may hold (rounded up to a power of two). */
const SKETCH_SCALE = 4
/** The sketch ages (halves) after this many increments per entry the store may hold. */
const AGING_FACTOR = 10
/** Entries a new store's sketch is sized for before it grows with the store. */
const INITIAL_SKETCH_ENTRIES = 1024
/** Largest entry count the sketch is sized for. */
const MAX_SKETCH_ENTRIES = 2 ** 22

/** Share of the capacity the admission window starts with. */
const INITIAL_WINDOW = 0.01
/** Share of the main space (capacity minus window) that the protected segment may hold. */
const PROTECTED_SHARE = 0.8
/** How far, as a share of the capacity, the window is moved up and down around its setting. */
const DITHER = 0.03
/** Requests in one dither phase: this share of the entries held, and at least MIN_PHASE. */
const PHASE_FACTOR = 0.25
const MIN_PHASE = 1000
/** Phases (alternately up and down) compared before the window setting moves. */
const PHASES_PER_DECISION = 4
/** The first step of the window setting, and the smallest, as shares of the capacity. */
const STEP = 0.05
const MIN_STEP = 0.01
/** The step shrinks by this factor each time the direction reverses. */
const STEP_DECAY = 0.7
/** Entries a regime shadow aims to hold (its keys are a hash-sampled share of all keys). */
const SHADOW_ENTRIES = 4096
/** Largest share of the keys the shadows sample (1 in 2^3). */
const MIN_SHADOW_SHIFT = 3
/** Hit-ratio lead (over a shadow period) that moves the window to the other regime. */
const REGIME_MARGIN = 0.01
/** A candidate at least this frequent is admitted against a more frequent victim 1 time in 128. */
const ADMIT_JITTER_THRESHOLD = 6

/** One cached key in one of the three queues (a circular list per queue, around a sentinel). */
class Node<V> {
  key: string
  value: V
  /** Bytes accounted for the entry. */
  size: number
  /** Weight in the segment sizing: bytes when the store is bounded by bytes, else 1. */
  weight: number
  hash: number
  queue: number
  prev: Node<V>
  next: Node<V>

  constructor(key: string, value: V, size: number, weight: number, hash: number, queue: number) {
    this.key = key
    this.value = value
    this.size = size
    this.weight = weight
    this.hash = hash
    this.queue = queue
    this.prev = this
    this.next = this
  }
}

/** The state of the window adaptation, for tests and diagnostics. */
export interface TinyLfuState {
  /** Current admission window size, in weight units (bytes, or entries when bounded by count). */
  readonly windowMax: number
  /** Current protected segment size, in the same units. */
  readonly protectedMax: number
  /** Capacity in the same units. */
  readonly capacity: number
  /** Weight held by each queue. */
  readonly window: number
  readonly probation: number
  readonly protected: number
  /** Counters per row of the frequency sketch. */
  readonly sketchWidth: number
}

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

  readonly #map = new Map<string, Node<V>>()
  readonly #window: Node<V>
  readonly #probation: Node<V>
  readonly #protected: Node<V>
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
  /** An evicted node kept for the next new key (saves an allocation per set with eviction). */
  #spare: Node<V> | null = null
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
   */
  constructor(maxBytes: number, maxEntries: number, fixedWindow?: number) {
    this.maxBytes = maxBytes
    this.maxEntries = maxEntries
    this.#sized = Number.isFinite(maxBytes)
    this.#capacity = this.#sized ? maxBytes : maxEntries
    this.#windowMax = this.#capacity * (fixedWindow ?? INITIAL_WINDOW)
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
    this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    this.#setting = this.#windowMax
    this.#step = STEP * this.#capacity
    this.#window = new Node<V>('', undefined as V, 0, 0, 0, SENTINEL)
    this.#probation = new Node<V>('', undefined as V, 0, 0, 0, SENTINEL)
    this.#protected = new Node<V>('', undefined as V, 0, 0, 0, SENTINEL)
    this.#maxSketchWidth = Math.min(maxEntries, MAX_SKETCH_ENTRIES) * SKETCH_SCALE
    this.#sketch = new FrequencySketch(
      Math.min(this.#maxSketchWidth, INITIAL_SKETCH_ENTRIES * SKETCH_SCALE),
      AGING_FACTOR / SKETCH_SCALE,
    )
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
    const node = this.#map.get(key)
    if (node === undefined) {
      this.#misses++
      if (this.#shadowLru !== null && (hashKey(key) & this.#shadowMask) === 0) this.#sample(key, 0)
      return undefined
    }
    this.#hits++
    const hash = node.hash
    if ((hash & this.#shadowMask) === 0 && this.#shadowLru !== null) this.#sample(key, 1)
    this.#sketch.increment(hash)
    this.#onAccess(node)
    return node.value
  }

  /** The value without recording a use. */
  peek(key: string): V | undefined {
    return this.#map.get(key)?.value
  }

  /** Keys held, in no particular order. */
  keys(): IterableIterator<string> {
    return this.#map.keys()
  }

  /**
   * Stores a value of `size` bytes (at least 1), then evicts until both bounds hold. The new
   * entry itself may be evicted at once when the policy does not admit it.
   */
  set(key: string, value: V, size: number): void {
    const weight = this.#sized ? size : 1
    const node = this.#map.get(key)
    if (node !== undefined) {
      node.value = value
      this.#bytes += size - node.size
      const delta = weight - node.weight
      if (delta !== 0) {
        if (node.queue === WINDOW) this.#windowWeight += delta
        else if (node.queue === PROBATION) this.#probationWeight += delta
        else this.#protectedWeight += delta
        node.weight = weight
      }
      node.size = size
      this.#sketch.increment(node.hash)
      this.#onAccess(node)
      this.#evict()
      return
    }
    const hash = hashKey(key)
    let added = this.#spare
    if (added === null) added = new Node<V>(key, value, size, weight, hash, WINDOW)
    else {
      this.#spare = null
      added.key = key
      added.value = value
      added.size = size
      added.weight = weight
      added.hash = hash
      added.queue = WINDOW
    }
    this.#map.set(key, added)
    this.#append(this.#window, added)
    this.#windowWeight += weight
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

  /** Removes a key; `true` when it was held. */
  delete(key: string): boolean {
    const node = this.#map.get(key)
    if (node === undefined) return false
    this.#remove(node)
    return true
  }

  /** Removes every entry (the frequency history stays). */
  clear(): void {
    this.#map.clear()
    for (const head of [this.#window, this.#probation, this.#protected]) {
      head.next = head
      head.prev = head
    }
    this.#bytes = 0
    this.#windowWeight = 0
    this.#probationWeight = 0
    this.#protectedWeight = 0
  }

  #append(head: Node<V>, node: Node<V>): void {
    const last = head.prev
    node.prev = last
    node.next = head
    last.next = node
    head.prev = node
  }

  #unlink(node: Node<V>): void {
    node.prev.next = node.next
    node.next.prev = node.prev
  }

  #first(head: Node<V>): Node<V> | null {
    const n = head.next
    return n === head ? null : n
  }

  #after(node: Node<V>): Node<V> | null {
    const n = node.next
    return n.queue === SENTINEL ? null : n
  }

  #onAccess(node: Node<V>): void {
    const q = node.queue
    if (q === WINDOW) {
      this.#unlink(node)
      this.#append(this.#window, node)
    } else if (q === PROBATION) {
      this.#unlink(node)
      if (node.weight > this.#protectedMax) {
        this.#append(this.#probation, node)
        return
      }
      this.#probationWeight -= node.weight
      node.queue = PROTECTED
      this.#append(this.#protected, node)
      this.#protectedWeight += node.weight
      if (this.#protectedWeight > this.#protectedMax) this.#demoteFromProtected()
    } else {
      this.#unlink(node)
      this.#append(this.#protected, node)
    }
  }

  #demoteFromProtected(): void {
    const head = this.#protected
    while (this.#protectedWeight > this.#protectedMax) {
      const n = head.next
      if (n === head) return
      this.#unlink(n)
      this.#protectedWeight -= n.weight
      n.queue = PROBATION
      this.#append(this.#probation, n)
      this.#probationWeight += n.weight
    }
  }

  #over(): boolean {
    return this.#bytes > this.maxBytes || this.#map.size > this.maxEntries
  }

  #evict(): void {
    // Move the window's overflow to the end of probation: these are the candidates.
    let candidate: Node<V> | null = null
    const window = this.#window
    while (this.#windowWeight > this.#windowMax) {
      const n = window.next
      if (n === window) break
      this.#unlink(n)
      this.#windowWeight -= n.weight
      n.queue = PROBATION
      this.#append(this.#probation, n)
      this.#probationWeight += n.weight
      if (candidate === null) candidate = n
    }
    if (!this.#over()) return
    this.#evictFromMain(candidate)
  }

  /** Caffeine's eviction: the first candidate against probation's LRU end, loser goes, repeat. */
  #evictFromMain(first: Node<V> | null): void {
    let candidate = first
    let candidateQueue = PROBATION
    let victimQueue = PROBATION
    let victim = this.#first(this.#probation)
    while (this.#over()) {
      if (candidate === null && candidateQueue === PROBATION) {
        candidate = this.#first(this.#window)
        candidateQueue = WINDOW
      }
      if (candidate === null && victim === null) {
        if (victimQueue === PROBATION) {
          victim = this.#first(this.#protected)
          victimQueue = PROTECTED
          continue
        }
        if (victimQueue === PROTECTED) {
          victim = this.#first(this.#window)
          victimQueue = WINDOW
          continue
        }
        return
      }
      if (victim === null) {
        const evict = candidate as Node<V>
        candidate = this.#after(evict)
        this.#evictNode(evict)
        continue
      }
      if (candidate === null) {
        const evict = victim
        victim = this.#after(evict)
        this.#evictNode(evict)
        continue
      }
      if (candidate === victim) {
        victim = this.#after(victim)
        this.#evictNode(candidate)
        candidate = null
        continue
      }
      if (candidate.weight > this.#capacity || !this.#admit(candidate, victim)) {
        const evict = candidate
        candidate = this.#after(evict)
        this.#evictNode(evict)
      } else {
        const evict = victim
        victim = this.#after(evict)
        this.#evictNode(evict)
        candidate = this.#after(candidate)
      }
    }
  }

  #admit(candidate: Node<V>, victim: Node<V>): boolean {
    const c = this.#sketch.frequency(candidate.hash)
    const v = this.#sketch.frequency(victim.hash)
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

  #evictNode(node: Node<V>): void {
    this.#remove(node)
    this.evictions++
    node.value = undefined as V
    this.#spare = node
  }

  #remove(node: Node<V>): void {
    this.#unlink(node)
    const q = node.queue
    if (q === WINDOW) this.#windowWeight -= node.weight
    else if (q === PROBATION) this.#probationWeight -= node.weight
    else this.#protectedWeight -= node.weight
    this.#bytes -= node.size
    this.#map.delete(node.key)
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
      let n = this.#first(this.#probation)
      if (n === null || n.weight > quota) n = this.#first(this.#protected)
      if (n === null || n.weight > quota) break
      quota -= n.weight
      this.#unlink(n)
      if (n.queue === PROBATION) this.#probationWeight -= n.weight
      else this.#protectedWeight -= n.weight
      n.queue = WINDOW
      this.#append(this.#window, n)
      this.#windowWeight += n.weight
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
    const window = this.#window
    while (quota > 0) {
      const n = window.next
      if (n === window || n.weight > quota) break
      quota -= n.weight
      this.#unlink(n)
      this.#windowWeight -= n.weight
      n.queue = PROBATION
      this.#append(this.#probation, n)
      this.#probationWeight += n.weight
    }
    if (quota > 0) {
      this.#windowMax += quota
      this.#protectedMax = (this.#capacity - this.#windowMax) * PROTECTED_SHARE
    }
  }
}
