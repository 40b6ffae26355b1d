import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { StoredHeader } from './types.js'

/** Parsed `Cache-Control` directives: lower-case names, `true` for directives without a value. */
export type Directives = Record<string, string | true>

const EMPTY: Directives = Object.freeze({}) as Directives

/**
 * Parses a `Cache-Control` value (RFC 9111 §5.2). Quoted values may hold commas. A directive
 * given twice with different values counts as `0` (RFC 9111 §4.2.1: conflicting freshness is stale).
 */
export function parseCacheControl(value: string | readonly string[] | number | undefined): Directives {
  if (value === undefined) return EMPTY
  const text = Array.isArray(value) ? value.join(',') : String(value)
  if (text.length === 0) return EMPTY
  const out: Directives = {}
  const re = /\s*([^=,\s]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^,]*)))?\s*(?:,|$)/gy
  re.lastIndex = 0
  while (re.lastIndex < text.length) {
    const m = re.exec(text)
    if (m === null || m[0].length === 0) break
    const name = (m[1] as string).toLowerCase()
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]?.trim()
    const val: string | true = raw === undefined || raw === '' ? true : raw
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
