import { InvalidDurationError } from './errors.js'

/** A duration unit: milliseconds, seconds, minutes, hours, days. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/**
 * What a bare number of time means: `'ms'` milliseconds (the default of `@tiercache/core`, as in
 * Node's timers) or `'s'` seconds (the `tiercache` package's unit).
 * Strings (`'250ms'`, `'30s'`, `'1h'`) carry their own unit and read the same under both.
 */
export type TimeUnit = 'ms' | 's'

const UNIT_FACTOR: Readonly<Record<TimeUnit, number>> = { ms: 1, s: 1000 }
const UNIT_WORD: Readonly<Record<TimeUnit, string>> = { ms: 'milliseconds', s: 'seconds' }

/**
 * Validates a {@link TimeUnit} option.
 *
 * @param input - `'ms'`, `'s'` or `undefined`
 * @param option - the option name, used in the error message
 * @returns the unit, `'ms'` when `input` is `undefined`
 * @throws InvalidDurationError (`E_INVALID_DURATION`) for anything else
 */
export function resolveTimeUnit(input: unknown, option = 'timeUnit'): TimeUnit {
  if (input === undefined) return 'ms'
  if (input === 'ms' || input === 's') return input
  throw new InvalidDurationError(
    `${option} must be 'ms' or 's', got ${JSON.stringify(input) ?? String(input)}`,
    {
      option,
    },
  )
}

/**
 * A duration: a number of **milliseconds** (or of seconds in a cache created with
 * `timeUnit: 's'`), a string such as `'250ms'`, `'30s'`, `'5m'`,
 * `'1h'`, `'1d'` or a combination such as `'1h30m'`, or the documented forever: `'forever'`
 * (equivalently the number `Infinity`, exported as {@link FOREVER}).
 */
export type Duration =
  | number
  | 'forever'
  | `${number}${DurationUnit}`
  | `${number}${DurationUnit}${number}${DurationUnit}`
  | `${number}${DurationUnit}${number}${DurationUnit}${number}${DurationUnit}`

/** The "forever" duration: an entry with this TTL never expires. Equal to `Infinity`. */
export const FOREVER: number = Number.POSITIVE_INFINITY

/**
 * The absolute timestamp (epoch ms) stores see for entries that never expire:
 * `Number.MAX_SAFE_INTEGER`. It fits a 64-bit SQL integer and JSON, unlike `Infinity`.
 */
export const NEVER: number = Number.MAX_SAFE_INTEGER

/** Largest delay Node timers accept without firing at once: 2^31-1 ms (about 24.8 days). */
export const MAX_TIMER_DELAY = 2_147_483_647

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const SEGMENT = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y
const parsed = new Map<string, number>()

/**
 * Parses a {@link Duration} to milliseconds. `'forever'` and `Infinity` give `Infinity`.
 *
 * @param input - the duration
 * @param option - the option name, used in the error message
 * @param unit - what a bare number means: `'ms'` (default) or `'s'` (multiplied by 1000)
 * @returns milliseconds (a finite non-negative number, or `Infinity`)
 * @throws InvalidDurationError (`E_INVALID_DURATION`) for negative, NaN, `-Infinity`, wrong types
 *   and malformed strings
 */
export function parseDuration(input: unknown, option = 'duration', unit: TimeUnit = 'ms'): number {
  if (typeof input === 'number') {
    if (input >= 0) return unit === 'ms' ? input : input * UNIT_FACTOR[unit]
    throw new InvalidDurationError(
      `${option} must be a non-negative number of ${UNIT_WORD[unit] ?? 'milliseconds'} or 'forever', got ${String(input)}`,
      { option },
    )
  }
  if (typeof input === 'string') {
    const cached = parsed.get(input)
    if (cached !== undefined) return cached
    const ms = parseDurationString(input, option)
    if (parsed.size < 1000) parsed.set(input, ms)
    return ms
  }
  throw new InvalidDurationError(
    `${option} must be a number of ${UNIT_WORD[unit] ?? 'milliseconds'} or a duration string`,
    { option },
  )
}

function parseDurationString(input: string, option: string): number {
  if (input === 'forever') return FOREVER
  let total = 0
  let pos = 0
  while (pos < input.length) {
    SEGMENT.lastIndex = pos
    const m = SEGMENT.exec(input)
    if (!m) break
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number)
    pos = SEGMENT.lastIndex
  }
  if (pos === 0 || pos !== input.length || !Number.isFinite(total)) {
    throw new InvalidDurationError(
      `${option}: "${input.slice(0, 50)}" is not a duration; use a number or strings like '250ms', '30s', '5m', '1h', '1d', '1h30m', 'forever'`,
      { option },
    )
  }
  return total
}

/**
 * Parses an optional duration: `undefined` gives `fallback`.
 *
 * @param input - the duration or undefined
 * @param fallback - returned when input is undefined (milliseconds, whatever `unit` is)
 * @param option - option name for errors
 * @param unit - what a bare number means: `'ms'` (default) or `'s'`
 */
export function optionalDuration(
  input: unknown,
  fallback: number,
  option: string,
  unit: TimeUnit = 'ms',
): number {
  return input === undefined ? fallback : parseDuration(input, option, unit)
}

/**
 * Clamps a delay for `setTimeout`, which fires at once for delays above 2^31-1 ms.
 *
 * @param ms - the wanted delay in milliseconds
 * @returns a delay between 0 and {@link MAX_TIMER_DELAY}
 */
export function timerDelay(ms: number): number {
  if (!(ms > 0)) return 0
  return ms > MAX_TIMER_DELAY ? MAX_TIMER_DELAY : Math.ceil(ms)
}

/**
 * Adds a duration to an absolute time, mapping forever (and anything past it) to {@link NEVER}.
 *
 * @param now - epoch milliseconds
 * @param ms - duration in milliseconds, possibly `Infinity`
 */
export function addDuration(now: number, ms: number): number {
  return Math.min(now + ms, NEVER)
}
