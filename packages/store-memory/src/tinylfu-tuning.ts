/**
 * @module
 * The tuning constants of the `'tinylfu'` policy (sketch size and aging, window adaptation,
 * regime shadows, admission jitter) and the state it reports.
 */
/** Counters per sketch row per entry the store may hold (rounded up to a power of two). */
export const SKETCH_SCALE: number = 4
/** The sketch ages (halves) after this many increments per entry the store may hold. */
export const AGING_FACTOR: number = 10
/** Entries a new store's sketch is sized for before it grows with the store. */
export const INITIAL_SKETCH_ENTRIES: number = 1024
/** Largest entry count the sketch is sized for. */
export const MAX_SKETCH_ENTRIES: number = 2 ** 22

/** Share of the capacity the admission window starts with. */
export const INITIAL_WINDOW: number = 0.01
/** Share of the main space (capacity minus window) that the protected segment may hold. */
export const PROTECTED_SHARE: number = 0.8
/** How far, as a share of the capacity, the window is moved up and down around its setting. */
export const DITHER: number = 0.03
/** Requests in one dither phase: this share of the entries held, and at least MIN_PHASE. */
export const PHASE_FACTOR: number = 0.25
export const MIN_PHASE: number = 1000
/** Phases (alternately up and down) compared before the window setting moves. */
export const PHASES_PER_DECISION: number = 4
/** The first step of the window setting, and the smallest, as shares of the capacity. */
export const STEP: number = 0.05
export const MIN_STEP: number = 0.01
/** The step shrinks by this factor each time the direction reverses. */
export const STEP_DECAY: number = 0.7
/** Entries a regime shadow aims to hold (its keys are a hash-sampled share of all keys). */
export const SHADOW_ENTRIES: number = 4096
/** Largest share of the keys the shadows sample (1 in 2^3). */
export const MIN_SHADOW_SHIFT: number = 3
/** Hit-ratio lead (over a shadow period) that moves the window to the other regime. */
export const REGIME_MARGIN: number = 0.01
/** A candidate at least this frequent is admitted against a more frequent victim 1 time in 128. */
export const ADMIT_JITTER_THRESHOLD: number = 6

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
