/**
 * The oracle of which arguments are valid: input error codes, key/tag/duration rules, and the
 * verdict a call must get. Also how values and errors are shown in violations.
 */
import { parseDuration } from '@tiercache/core'
import { isPortableText } from '@tiercache/core/store'
import type { OptionsGen, ValueGen } from './op-arbitraries.js'

/** Codes a refused call may carry: input errors only (the backends are healthy). */
export const INPUT_CODES = new Set([
  'E_INVALID_KEY',
  'E_INVALID_VALUE',
  'E_INVALID_DURATION',
  'E_INVALID_OPTION',
  'E_INVALID_PATTERN',
  'E_SERIALIZE',
])

export const keyOk = (k: unknown): k is string =>
  typeof k === 'string' && k.length > 0 && Buffer.byteLength(k) <= 1024 && isPortableText(k)

export const isTagList = (tags: unknown): boolean => {
  if (tags === undefined) return true
  if (!Array.isArray(tags) || tags.length > 64) return false
  return tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 256 && isPortableText(t))
}

/** Whether a duration must be accepted (true), must be refused (false), or may go either way (undefined). */
export function durationVerdict(d: unknown): boolean | undefined {
  if (d === undefined) return true
  if (typeof d === 'number') return d >= 0
  if (typeof d === 'string') {
    if (/^(\d+(ms|s|m|h|d))+$/.test(d) || d === 'forever') return true
    if (d === '' || /^\s|\s$/.test(d) || d.startsWith('-')) return false
    return undefined
  }
  return false
}

/** Milliseconds a duration means, when valid; undefined otherwise. */
export function durationMs(d: unknown, fallback: number): number | undefined {
  if (d === undefined) return fallback
  try {
    return parseDuration(d)
  } catch {
    return undefined
  }
}

export interface Verdict {
  /** Codes that explain a refusal; empty when every argument is valid. */
  readonly codes: Set<string>
  /** Arguments whose validity the oracle leaves open (a refusal with these codes is fine too). */
  readonly maybe: Set<string>
}

export const verdict = (): Verdict => ({ codes: new Set(), maybe: new Set() })

export function judgeValue(v: Verdict, gen: ValueGen): void {
  if (gen.kind === 'refused') v.codes.add(gen.what === 'undefined' ? 'E_INVALID_VALUE' : 'E_SERIALIZE')
}

export function judgeDuration(v: Verdict, d: unknown): void {
  const ok = durationVerdict(d)
  if (ok === false)
    v.codes.add(typeof d === 'number' || typeof d === 'string' ? 'E_INVALID_DURATION' : 'E_INVALID_DURATION')
  if (ok === undefined) v.maybe.add('E_INVALID_DURATION')
}

export function judgeOptions(v: Verdict, o: OptionsGen): void {
  if (o.form === 'duration') {
    // A number or a string is a ttl; an object (even `{}` or `[]`) is an options object.
    if (typeof o.ttl === 'number' || typeof o.ttl === 'string') judgeDuration(v, o.ttl)
    else if (o.ttl !== undefined && (typeof o.ttl !== 'object' || o.ttl === null))
      v.codes.add('E_INVALID_OPTION')
  } else if (o.form === 'object') {
    judgeDuration(v, o.ttl)
    judgeDuration(v, o.grace)
    if (!isTagList(o.tags)) v.codes.add('E_INVALID_OPTION')
  } else if (o.form === 'junk') {
    v.codes.add('E_INVALID_OPTION')
  }
}

export function optionsArgument(o: OptionsGen): unknown {
  switch (o.form) {
    case 'none':
      return undefined
    case 'duration':
      return o.ttl
    case 'junk':
      return o.junk
    default: {
      const out: Record<string, unknown> = {}
      if ('ttl' in o) out.ttl = o.ttl
      if ('grace' in o) out.grace = o.grace
      if ('tags' in o) out.tags = o.tags
      return out
    }
  }
}

/** How long a write lives (ms), for deciding whether to check it is present; 1 h by default. */
export function lifetime(o: OptionsGen): number | undefined {
  if (o.form === 'duration') {
    return typeof o.ttl === 'object' && o.ttl !== null ? 3_600_000 : durationMs(o.ttl, 3_600_000)
  }
  if (o.form === 'object') return durationMs(o.ttl, 3_600_000)
  return 3_600_000
}

export function tagsOf(o: OptionsGen): string[] {
  return o.form === 'object' && Array.isArray(o.tags) ? [...new Set(o.tags as string[])] : []
}

// ---------------------------------------------------------------------------------------------
// Interpreter

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v
  if (typeof v === 'bigint') return `${v}n`
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return `${error.name}${code ? ` (${String(code)})` : ''}: ${error.message.slice(0, 200)}`
  }
  return show(error)
}
