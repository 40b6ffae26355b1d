import type { Serializer, Store, StoreCapabilities } from '@tiercache/core/store'

/** The subset of a Jest/Vitest `expect` result the suite uses. */
export interface Assertion {
  toBe(expected: unknown): void
  toEqual(expected: unknown): void
  toBeUndefined(): void
  toBeDefined(): void
  toBeGreaterThanOrEqual(expected: number): void
  toBeLessThanOrEqual(expected: number): void
  /** Negation. */
  readonly not: Assertion
}

/** A Jest/Vitest-compatible `expect`. */
export type ExpectLike = (actual: unknown, message?: string) => Assertion

/** A Jest/Vitest-compatible `test`. The third argument is a timeout in milliseconds. */
export type TestLike = (name: string, fn: () => unknown, timeout?: number) => unknown

/** A Jest/Vitest-compatible `describe`. */
export type DescribeLike = (name: string, fn: () => void) => unknown

/** Options for {@link runStoreSuite}. */
export interface StoreSuiteOptions {
  /** The runner's `describe`. */
  readonly describe: DescribeLike
  /** The runner's `test` (or `it`). */
  readonly test: TestLike
  /** The runner's `expect`. */
  readonly expect: ExpectLike
  /**
   * Creates a fresh store for one test. Stores made by different calls must not see each
   * other's keys when the backend is shared with other runs (use a unique key prefix or table
   * per call), because the suite calls `clear('')`. The suite closes each store after its test.
   */
  readonly create: () => Store<any> | Promise<Store<any>>
  /**
   * Creates a store whose backend fails every call: a server that is not running, a dropped
   * table, a file where its directory should be. When given, the suite checks that every
   * operation rejects with a `StoreError` naming the store and the operation, within a third of
   * `timeout`, instead of answering as if the key were missing. Without it that test is not
   * registered.
   */
  readonly failing?: () => Store<any> | Promise<Store<any>>
  /**
   * The capabilities the store must declare. When given, the suite checks the store declares
   * exactly these. When omitted, the store's own declaration is trusted and its optional
   * methods are tested.
   */
  readonly capabilities?: StoreCapabilities
  /**
   * Smallest expiry the backend honours, in milliseconds. The physical-expiry test writes an
   * entry that expires after 3 × this long, checks it is present, and reads it again after
   * 5 × this long (plus 20 ms).
   * @default 100
   */
  readonly ttlGranularity?: number
  /**
   * Serializer used to produce the bytes given to remote stores.
   * @default defaultSerializer from @tiercache/core
   */
  readonly serializer?: Serializer
  /**
   * Title of the top-level `describe`.
   * @default 'store conformance'
   */
  readonly name?: string
  /**
   * Per-test timeout in milliseconds, passed to `test`.
   * @default 30_000
   */
  readonly timeout?: number
}
