import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { StoredHeader } from './types.js'

/** Parsed `Cache-Control` directives: lower-case names, `true` for directives without a value. */
export type Directives = Record<string, string | true>

const EMPTY: Directives = Object.freeze({}) as Directives

/**
 * Parses a `Cache-Control` value (RFC 9111 §5.2): `token [ "=" ( token / quoted-string ) ]`,
 * comma-separated, names case-insensitive. Quoted values may hold commas. A directive written
 * with whitespace around `=` (`max-age =3600`) is not the directive and is ignored, as the
 * grammar has no whitespace there. A directive given twice with different values counts as `0`
 * (RFC 9111 §4.2.1: conflicting freshness is stale).
 */
export function parseCacheControl(value: string | readonly string[] | number | undefined): Directives {
  if (value === undefined) return EMPTY
  const text = Array.isArray(value) ? value.join(',') : String(value)
  if (text.length === 0) return EMPTY
  const out: Directives = {}
  const re = /[ \t]*([^=,\s"]+)(\s*=\s*)?(?:"((?:[^"\\]|\\.)*)"|([^,"]*))?[^,]*(?:,|$)/gy
  re.lastIndex = 0
  while (re.lastIndex < text.length) {
    const start = re.lastIndex
    const m = re.exec(text)
    if (m === null || m[0].length === 0) {
      const next = text.indexOf(',', start)
      if (next === -1) break
      re.lastIndex = next + 1
      continue
    }
    const name = (m[1] as string).toLowerCase()
    const eq = m[2]
    if (eq !== undefined && eq !== '=') continue
    const raw = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[4]?.trim()
    const val: string | true = eq === undefined || raw === undefined || raw === '' ? true : raw
    const prev = out[name]
    out[name] = prev !== undefined && prev !== val ? '0' : val
  }
  return out
}

/** A delta-seconds directive value in seconds, or undefined when absent. Invalid values count as 0. */
export function seconds(d: Directives, name: string): number | undefined {
  const v = d[name]
  if (v === undefined) return undefined
  if (v === true) return 0
  const n = /^\d+$/.test(v) ? Number(v) : 0
  return Number.isFinite(n) ? n : 0
}

/** Lower-case field names of a `Vary` value; `['*']` when any of them is `*`, however spelled. */
export function parseVary(value: string | readonly string[] | number | undefined): readonly string[] | null {
  if (value === undefined) return null
  const text = Array.isArray(value) ? value.join(',') : String(value)
  const names: string[] = []
  for (const part of text.split(',')) {
    const name = part.trim().toLowerCase()
    if (name === '*') return ['*']
    if (name.length > 0 && !names.includes(name)) names.push(name)
  }
  if (names.length === 0) return null
  return names.sort()
}

/** A request header's value normalized for variant matching (whitespace around commas removed). */
export function varyValue(headers: IncomingHttpHeaders, name: string): string {
  const v = headers[name]
  if (v === undefined) return '\u0000'
  const text = Array.isArray(v) ? v.join(',') : v
  return text.replace(/\s*,\s*/g, ',').trim()
}

/** Response headers never stored or replayed. */
const DROPPED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'set-cookie',
  'content-length',
  'age',
])

/**
 * The headers of a response as they are stored: hop-by-hop headers (and those `Connection`
 * names), `Set-Cookie`, `Content-Length`, `Age` and the names in `drop` removed.
 */
export function storedHeaders(headers: OutgoingHttpHeaders, drop: ReadonlySet<string>): StoredHeader[] {
  const out: StoredHeader[] = []
  const connection = headers.connection
  const named =
    connection === undefined
      ? undefined
      : new Set(
          String(connection)
            .split(',')
            .map((s) => s.trim().toLowerCase()),
        )
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (DROPPED.has(lower) || drop.has(lower) || named?.has(lower)) continue
    out.push([lower, Array.isArray(value) ? value.map(String) : String(value)])
  }
  return out
}

/** Headers a 304 repeats from the stored response (RFC 9110 §15.4.5). */
export const NOT_MODIFIED_HEADERS: ReadonlySet<string> = new Set([
  'cache-control',
  'content-location',
  'date',
  'etag',
  'expires',
  'last-modified',
  'vary',
])

/** One header value as a string (first of a list). */
export function first(value: string | readonly string[] | number | undefined): string | undefined {
  if (value === undefined) return undefined
  if (Array.isArray(value)) return value[0] === undefined ? undefined : String(value[0])
  return String(value)
}

/** Splits a tag header into tags (comma- or space-separated). */
export function splitTags(value: string | readonly string[] | number | undefined): string[] {
  if (value === undefined) return []
  const text = Array.isArray(value) ? value.join(',') : String(value)
  return text.split(/[\s,]+/).filter((t) => t.length > 0)
}

/** True when `If-None-Match` lists the ETag (weak comparison, RFC 9110 §8.8.3.2) or is `*`. */
export function etagMatches(ifNoneMatch: string, etag: string): boolean {
  const value = ifNoneMatch.trim()
  if (value === '*') return true
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag
  for (const part of value.split(',')) {
    const tag = part.trim()
    if ((tag.startsWith('W/') ? tag.slice(2) : tag) === opaque) return true
  }
  return false
}

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
}
const IMF_FIXDATE =
  /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([a-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/i
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([a-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/i
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([a-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/i

function month(name: string): number | undefined {
  return MONTHS[`${name.charAt(0).toUpperCase()}${name.slice(1).toLowerCase()}`]
}

function utc(
  year: number,
  month: number | undefined,
  day: number,
  h: number,
  m: number,
  s: number,
): number | undefined {
  if (month === undefined || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined
  const t = Date.UTC(year, month, day, h, m, Math.min(s, 59))
  // reject dates that roll over (31 Feb)
  return new Date(t).getUTCDate() === day ? t : undefined
}

/**
 * Parses an HTTP-date (RFC 9110 §5.6.7): IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the
 * obsolete RFC 850 form (`Sunday, 06-Nov-94 08:49:37 GMT`, whose two-digit year is the nearest
 * year no more than 50 years ahead of `now`) and asctime (`Sun Nov  6 08:49:37 1994`). Anything
 * else (another layout, missing comma, extra spaces, numeric months, one-digit hours, folded
 * lines) is invalid. Day, month and zone names are matched without regard to case, as most
 * caches do.
 *
 * @param now - the current time (epoch ms), for RFC 850 years
 * @returns epoch ms, or undefined when the value is not an HTTP-date
 */
export function parseHttpDate(
  value: string | readonly string[] | number | undefined,
  now: number,
): number | undefined {
  const text = first(value)
  if (text === undefined || text.length > 64) return undefined
  let m = IMF_FIXDATE.exec(text)
  if (m !== null) {
    return utc(Number(m[3]), month(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  }
  m = RFC850_DATE.exec(text)
  if (m !== null) {
    const thisYear = new Date(now).getUTCFullYear()
    let year = Math.floor(thisYear / 100) * 100 + Number(m[3])
    if (year > thisYear + 50) year -= 100
    return utc(year, month(m[2] as string), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  }
  m = ASCTIME_DATE.exec(text)
  if (m !== null) {
    return utc(
      Number(m[6]),
      month(m[1] as string),
      Number((m[2] as string).trim()),
      Number(m[3]),
      Number(m[4]),
      Number(m[5]),
    )
  }
  return undefined
}

/**
 * The `Age` of a response in seconds (RFC 9111 §5.1): the first member of a list-valued field,
 * which must be a non-negative integer; an invalid value is ignored (0).
 */
export function parseAge(value: string | readonly string[] | number | undefined): number {
  const text = first(value)
  if (text === undefined) return 0
  const comma = text.indexOf(',')
  const member = (comma === -1 ? text : text.slice(0, comma)).trim()
  if (!/^\d+$/.test(member)) return 0
  return Math.min(Number(member), 2_147_483_648)
}

/** True when two lists hold the same strings in the same order (`Vary` header values). */
export function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
