/**
 * Errors with stable codes.
 *
 * Every error tiercache throws carries a `code` starting with `E_` and a brand, so
 * {@link isTierCacheError} recognises it even when two copies of `@tiercache/core` are installed.
 * Input errors subclass the built-in `TypeError` / `RangeError`, so `instanceof TypeError` keeps
 * working for callers who already handle those.
 *
 * @module
 */

const BRAND: unique symbol = Symbol.for('tiercache.error') as never

/**
 * Every stable error code a tiercache package throws, in one closed list. The table in core's
 * README lists the same codes (a test checks that they agree); a package that needs a new code
 * adds it here first.
 */
export const ERROR_CODES = [
  'E_INVALID_KEY',
  'E_INVALID_VALUE',
  'E_INVALID_DURATION',
  'E_INVALID_OPTION',
  'E_INVALID_PATTERN',
  'E_SERIALIZE',
  'E_DESERIALIZE',
  'E_VALUE_TOO_LARGE',
  'E_UNSUPPORTED',
  'E_STORE',
  'E_STORE_TIMEOUT',
  'E_CIRCUIT_OPEN',
  'E_DRIVER_MISSING',
  'E_LOADER_FAILED',
  'E_HARD_TIMEOUT',
  'E_CLOSED',
  'E_NO_CACHE',
] as const

/** A stable error code: one of {@link ERROR_CODES}. A closed union: no other string is a code. */
export type ErrorCode = (typeof ERROR_CODES)[number]

/** Context fields an error may carry. All optional. */
export interface ErrorContext {
  /** The cache key involved, if any. Never the value. */
  readonly key?: string | undefined
  /** The store (tier) name involved, if any. */
  readonly store?: string | undefined
  /** The operation, for example `get`, `set`, `deleteByPattern`. */
  readonly operation?: string | undefined
  /** The option or argument name, for input errors. */
  readonly option?: string | undefined
  /** The underlying error. */
  readonly cause?: unknown
}

/** Shape shared by every tiercache error, whatever built-in class it extends. */
export interface TierCacheErrorShape extends Error {
  /** Stable machine-readable code, for example `E_INVALID_KEY`. */
  readonly code: ErrorCode
  /** The cache key involved, if any. */
  readonly key?: string | undefined
  /** The store name involved, if any. */
  readonly store?: string | undefined
  /** The operation involved, if any. */
  readonly operation?: string | undefined
}

function brand(err: Error, code: ErrorCode, ctx: ErrorContext | undefined): void {
  Object.defineProperty(err, BRAND, { value: true, enumerable: false })
  Object.defineProperty(err, 'code', { value: code, enumerable: true, writable: false })
  if (ctx) {
    if (ctx.key !== undefined)
      Object.defineProperty(err, 'key', { value: shortKey(ctx.key), enumerable: true })
    if (ctx.store !== undefined) Object.defineProperty(err, 'store', { value: ctx.store, enumerable: true })
    if (ctx.operation !== undefined) {
      Object.defineProperty(err, 'operation', { value: ctx.operation, enumerable: true })
    }
    if (ctx.option !== undefined)
      Object.defineProperty(err, 'option', { value: ctx.option, enumerable: true })
  }
}

function shortKey(key: string): string {
  return key.length > 200 ? `${key.slice(0, 200)}…` : key
}

function opts(ctx: ErrorContext | undefined): ErrorOptions | undefined {
  return ctx && ctx.cause !== undefined ? { cause: ctx.cause } : undefined
}

/**
 * The error type each code narrows to in {@link isTierCacheError}. Codes thrown by adapter
 * packages are described by their shape (`E_CIRCUIT_OPEN` from `@tiercache/breaker`,
 * `E_DRIVER_MISSING` from `@tiercache/fallback-kysely`), since core does not import them.
 */
export interface ErrorByCode {
  /** {@link InvalidKeyError}: empty, non-string, too long, ill-formed UTF-16 or NUL. */
  E_INVALID_KEY: InvalidKeyError
  /** {@link InvalidValueError}: `undefined`. */
  E_INVALID_VALUE: InvalidValueError
  /** {@link InvalidDurationError}: negative, NaN, malformed. */
  E_INVALID_DURATION: InvalidDurationError
  /** {@link InvalidOptionError}: bad options, tags, namespaces, stores. */
  E_INVALID_OPTION: InvalidOptionError & { readonly option?: string }
  /** {@link InvalidPatternError}: empty, trailing lone `\`, ill-formed UTF-16 or NUL. */
  E_INVALID_PATTERN: InvalidPatternError
  /** {@link SerializationError}: functions, symbols, cycles, too deep, throwing getters. */
  E_SERIALIZE: SerializationError
  /** {@link DeserializationError}: stored bytes that cannot be decoded. */
  E_DESERIALIZE: DeserializationError
  /** {@link ValueTooLargeError}: an entry above a store's `maxEntryBytes`. */
  E_VALUE_TOO_LARGE: ValueTooLargeError
  /** A {@link TierCacheError}: an operation a tier cannot do (`deleteByPattern`). */
  E_UNSUPPORTED: TierCacheError
  /** {@link StoreError}: a backend failed. */
  E_STORE: StoreError
  /** {@link StoreTimeoutError}: a store call ran past its timeout. */
  E_STORE_TIMEOUT: StoreTimeoutError
  /** `CircuitOpenError` of `@tiercache/breaker`: refused without I/O while the breaker is open. */
  E_CIRCUIT_OPEN: StoreError & {
    /** When the next probe is allowed (epoch ms), if known. */
    readonly retryAt: number | undefined
  }
  /** `DriverNotInstalledError` of `@tiercache/fallback-kysely`: a database driver is missing. */
  E_DRIVER_MISSING: StoreError & {
    /** The npm package to install. */
    readonly driver: string
  }
  /** {@link LoaderFailedError}: a loader called `ctx.fail()`. */
  E_LOADER_FAILED: LoaderFailedError
  /** {@link HardTimeoutError}: `hardTimeout` elapsed without a stale value. */
  E_HARD_TIMEOUT: HardTimeoutError
  /** {@link CacheClosedError} (or a store's `StoreError`): a call after `close()`. */
  E_CLOSED: TierCacheError
  /** A {@link TierCacheError}: `getCache()` before `setDefaultCache()`. */
  E_NO_CACHE: TierCacheError
}

/** The error `isTierCacheError(e, code)` narrows to: the class of that code, with `code` set. */
export type TierCacheErrorOf<C extends ErrorCode> = ErrorByCode[C] & { readonly code: C }

/**
 * True when `error` is an error thrown by any copy of tiercache. Checks a global brand and the
 * `E_` code, never `instanceof`, so it works across duplicate installs. With a `code`, it also
 * requires that code and narrows the type to its class (`isTierCacheError(e, 'E_STORE_TIMEOUT')`
 * gives access to `e.timeout`).
 *
 * @param error - anything caught
 * @param code - when given, also require this exact code
 * @example
 * ```ts
 * try { await cache.set('', 1) } catch (e) { if (isTierCacheError(e, 'E_INVALID_KEY')) ... }
 * ```
 */
export function isTierCacheError<C extends ErrorCode>(error: unknown, code: C): error is TierCacheErrorOf<C>
export function isTierCacheError(error: unknown): error is TierCacheErrorShape
export function isTierCacheError(error: unknown, code?: ErrorCode): error is TierCacheErrorShape {
  if (typeof error !== 'object' || error === null) return false
  const c = (error as { code?: unknown }).code
  if (typeof c !== 'string' || !c.startsWith('E_')) return false
  if ((error as Record<symbol, unknown>)[BRAND] !== true) return false
  return code === undefined || c === code
}

/** Base class for tiercache runtime errors that are not input errors. */
export class TierCacheError extends Error implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  declare readonly key?: string
  declare readonly store?: string
  declare readonly operation?: string
  /**
   * @param message - human readable text
   * @param code - stable code
   * @param ctx - context fields and cause
   */
  constructor(message: string, code: ErrorCode, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = new.target.name
    brand(this, code, ctx)
  }
}

/** A key that is not a non-empty string within the byte limit. Code `E_INVALID_KEY`. */
export class InvalidKeyError extends TypeError implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  declare readonly key?: string
  /**
   * @param message - what is wrong with the key
   * @param ctx - context fields
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = 'InvalidKeyError'
    brand(this, 'E_INVALID_KEY', ctx)
  }
}

/** A value that cannot be cached (for example `undefined`). Code `E_INVALID_VALUE`. */
export class InvalidValueError extends TypeError implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  /**
   * @param message - what is wrong with the value
   * @param ctx - context fields
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = 'InvalidValueError'
    brand(this, 'E_INVALID_VALUE', ctx)
  }
}

/** A duration that is negative, NaN, or a malformed string. Code `E_INVALID_DURATION`. */
export class InvalidDurationError extends RangeError implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  /**
   * @param message - what is wrong with the duration
   * @param ctx - context fields (`option` names the option)
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = 'InvalidDurationError'
    brand(this, 'E_INVALID_DURATION', ctx)
  }
}

/** An option with a wrong type or an out-of-range value. Code `E_INVALID_OPTION`. */
export class InvalidOptionError extends TypeError implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  /**
   * @param message - what is wrong with the option
   * @param ctx - context fields (`option` names the option)
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = 'InvalidOptionError'
    brand(this, 'E_INVALID_OPTION', ctx)
  }
}

/** A malformed glob pattern (empty, or ending in a lone backslash). Code `E_INVALID_PATTERN`. */
export class InvalidPatternError extends TypeError implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  /**
   * @param message - what is wrong with the pattern
   * @param ctx - context fields
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = 'InvalidPatternError'
    brand(this, 'E_INVALID_PATTERN', ctx)
  }
}

/** A value the serializer cannot encode: a function, a symbol, a circular structure. Code `E_SERIALIZE`. */
export class SerializationError extends TypeError implements TierCacheErrorShape {
  declare readonly code: ErrorCode
  /**
   * @param message - what could not be encoded, with its path
   * @param ctx - context fields
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, opts(ctx))
    this.name = 'SerializationError'
    brand(this, 'E_SERIALIZE', ctx)
  }
}

/** Stored bytes that cannot be decoded. Code `E_DESERIALIZE`. The engine treats it as a miss. */
export class DeserializationError extends TierCacheError {
  /**
   * @param message - what could not be decoded
   * @param ctx - context fields
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, 'E_DESERIALIZE', ctx)
  }
}

/**
 * A store failed. `code` is `E_STORE` unless a subclass says more (`E_STORE_TIMEOUT`,
 * `E_CIRCUIT_OPEN`, `E_VALUE_TOO_LARGE`). `store` names the store, `cause` holds the driver error.
 */
export class StoreError extends TierCacheError {
  /**
   * True when the call was refused at once, without I/O, by a fail-fast wrapper in front of the
   * store (an open circuit breaker, a full bulkhead): the store was not tried, so the failure
   * says nothing new about it. The engine counts such a call as `skipped` rather than as an
   * error, emits no `error` event for it, and does not try to delete a refused write's key from
   * that tier (the delete would meet the same wrapper; the wrapper decides what the store gets
   * once it lets calls through again). Set it with `ctx.refused`. The engine reads it on any
   * branded tiercache error, not by class, so it works when two copies of this package are
   * installed.
   * @default false
   */
  declare readonly refused: boolean
  /**
   * @param message - what failed
   * @param ctx - context; `store` and `operation` should always be given; `refused: true` marks
   *   a call refused without I/O (see {@link StoreError.refused})
   * @param code - a more specific code
   * @default code 'E_STORE'
   */
  constructor(
    message: string,
    ctx?: ErrorContext & { readonly refused?: boolean },
    code: ErrorCode = 'E_STORE',
  ) {
    super(message, code, ctx)
    if (ctx?.refused === true) Object.defineProperty(this, 'refused', { value: true, enumerable: true })
  }
}
// Not refused unless a constructor said so: a prototype default keeps ordinary errors' own
// properties (and their logged or serialized shape) as they were.
Object.defineProperty(StoreError.prototype, 'refused', { value: false, writable: false })

/**
 * True when `error` is a tiercache {@link StoreError} marked {@link StoreError.refused}: a
 * fail-fast wrapper refused the call without I/O. Checks the brand and the marker, not the
 * class, so it works when two copies of `@tiercache/core` are installed.
 *
 * @param error - anything caught
 * @internal
 */
export function isRefusal(error: unknown): boolean {
  return isTierCacheError(error) && (error as { refused?: unknown }).refused === true
}

/** A store operation did not answer within its timeout. Code `E_STORE_TIMEOUT`. */
export class StoreTimeoutError extends StoreError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number
  /**
   * @param timeout - the elapsed timeout in milliseconds
   * @param ctx - context fields
   */
  constructor(timeout: number, ctx?: ErrorContext) {
    super(
      `${ctx?.store ?? 'store'} ${ctx?.operation ?? 'operation'} timed out after ${timeout}ms`,
      ctx,
      'E_STORE_TIMEOUT',
    )
    this.timeout = timeout
  }
}

/** An entry larger than a store's `maxEntryBytes`. Code `E_VALUE_TOO_LARGE`. Nothing is stored. */
export class ValueTooLargeError extends StoreError {
  /** Size of the refused entry, in bytes. */
  readonly size: number
  /** The limit, in bytes. */
  readonly limit: number
  /**
   * @param size - size of the refused entry in bytes
   * @param limit - the limit in bytes
   * @param ctx - context fields
   */
  constructor(size: number, limit: number, ctx?: ErrorContext) {
    super(`entry of ${size} bytes exceeds the limit of ${limit} bytes`, ctx, 'E_VALUE_TOO_LARGE')
    this.size = size
    this.limit = limit
  }
}

/** A loader called `ctx.fail()`. Code `E_LOADER_FAILED`. */
export class LoaderFailedError extends TierCacheError {
  /**
   * @param message - the reason given to `fail()`
   * @param ctx - context fields
   */
  constructor(message: string, ctx?: ErrorContext) {
    super(message, 'E_LOADER_FAILED', ctx)
  }
}

/** A loader ran past `hardTimeout` and no stale value could be served. Code `E_HARD_TIMEOUT`. */
export class HardTimeoutError extends TierCacheError {
  /** The timeout that elapsed, in milliseconds. */
  readonly timeout: number
  /**
   * @param timeout - the elapsed timeout in milliseconds
   * @param ctx - context fields
   */
  constructor(timeout: number, ctx?: ErrorContext) {
    super(
      `loader for "${ctx?.key ?? ''}" did not finish within hardTimeout ${timeout}ms`,
      'E_HARD_TIMEOUT',
      ctx,
    )
    this.timeout = timeout
  }
}

/** The cache was closed. Code `E_CLOSED`. */
export class CacheClosedError extends TierCacheError {
  /** @param ctx - context fields */
  constructor(ctx?: ErrorContext) {
    super('the cache is closed', 'E_CLOSED', ctx)
  }
}
