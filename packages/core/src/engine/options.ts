import { parseDuration, type TimeUnit } from '../duration.js'
import { InvalidDurationError, InvalidOptionError } from '../errors.js'
import { normalizeTags } from '../tags.js'
import type { CacheOptions, GetOrSetOptions, Loader, SetOptions } from '../types.js'

/** `getOrSet` options with every default applied (durations in milliseconds). */
export interface LoadOptions {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly graceBackoff: number
  /** Stale-while-revalidate window after `freshUntil`, in milliseconds; 0 disables. */
  readonly swr: number
  readonly softTimeout: number | undefined
  readonly hardTimeout: number | undefined
  readonly refreshAhead: number
  readonly forceFresh: boolean
  readonly lockTimeout: number
}

/** Write options with every default applied (durations in milliseconds). */
export interface WriteOptions {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
}

/**
 * True when a stale entry may be served at once while it is refreshed: its freshness ended less
 * than `swr` milliseconds ago (`Infinity` for the whole grace window).
 */
export function withinRevalidateWindow(opts: LoadOptions, freshUntil: number, now: number): boolean {
  return opts.swr > 0 && now - freshUntil < opts.swr
}

/** One `getOrSet` (or refresh) as the engine handles it. */
export interface LoadRequest {
  /** The key relative to the root namespace. */
  readonly rel: string
  /** The key as the caller gave it (what the loader sees as `ctx.key`). */
  readonly key: string
  readonly loader: Loader<any>
  readonly opts: LoadOptions
}

function revalidateWindow(input: unknown, unit: TimeUnit): number {
  if (typeof input === 'boolean') {
    throw new InvalidDurationError(
      `staleWhileRevalidate is a duration, got ${input}: give how long after ttl a stale value is served at once ('30s'), 'forever' for the whole grace window, or 0`,
      { option: 'staleWhileRevalidate' },
    )
  }
  return parseDuration(input, 'staleWhileRevalidate', unit)
}

function resolve(
  o: GetOrSetOptions | CacheOptions | undefined,
  d: LoadOptions | undefined,
  unit: TimeUnit,
): LoadOptions {
  const refreshAhead = o?.refreshAhead ?? d?.refreshAhead ?? 0
  if (typeof refreshAhead !== 'number' || !(refreshAhead >= 0 && refreshAhead < 1)) {
    throw new InvalidOptionError('refreshAhead must be a number in [0, 1)', { option: 'refreshAhead' })
  }
  return {
    ttl: o?.ttl !== undefined ? parseDuration(o.ttl, 'ttl', unit) : (d?.ttl ?? 3_600_000),
    grace: o?.grace !== undefined ? parseDuration(o.grace, 'grace', unit) : (d?.grace ?? 0),
    tags: normalizeTags((o as GetOrSetOptions | undefined)?.tags),
    graceBackoff:
      o?.graceBackoff !== undefined
        ? parseDuration(o.graceBackoff, 'graceBackoff', unit)
        : (d?.graceBackoff ?? 5000),
    swr:
      o?.staleWhileRevalidate !== undefined ? revalidateWindow(o.staleWhileRevalidate, unit) : (d?.swr ?? 0),
    softTimeout:
      o?.softTimeout !== undefined ? parseDuration(o.softTimeout, 'softTimeout', unit) : d?.softTimeout,
    hardTimeout:
      o?.hardTimeout !== undefined ? parseDuration(o.hardTimeout, 'hardTimeout', unit) : d?.hardTimeout,
    refreshAhead,
    forceFresh: (o as GetOrSetOptions | undefined)?.forceFresh === true,
    lockTimeout:
      o?.lockTimeout !== undefined
        ? parseDuration(o.lockTimeout, 'lockTimeout', unit)
        : (d?.lockTimeout ?? 10_000),
  }
}

/** The cache-wide defaults, from `createCache` options (bare numbers in `unit`). Throws on bad input. */
export function defaultLoadOptions(options: CacheOptions, unit: TimeUnit): LoadOptions {
  return resolve(options, undefined, unit)
}

/** Per-call `getOrSet` options resolved against the defaults. Throws on bad input. */
export function resolveLoadOptions(
  o: GetOrSetOptions | undefined,
  defaults: LoadOptions,
  unit: TimeUnit,
): LoadOptions {
  return o === undefined ? defaults : resolve(o, defaults, unit)
}

/** Per-call write options resolved against the defaults. Throws on bad input. */
export function resolveWriteOptions(
  o: SetOptions | undefined,
  defaults: LoadOptions,
  unit: TimeUnit,
): WriteOptions {
  if (o === undefined) return defaults
  return {
    ttl: o.ttl !== undefined ? parseDuration(o.ttl, 'ttl', unit) : defaults.ttl,
    grace: o.grace !== undefined ? parseDuration(o.grace, 'grace', unit) : defaults.grace,
    tags: normalizeTags(o.tags),
  }
}
