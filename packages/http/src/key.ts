import { createHash } from 'node:crypto'

/** Method class in a key: GET responses (which also answer HEAD) and stored HEAD responses. */
export type MethodClass = 'G' | 'H'

/** Characters kept as they are in a canonical target: unreserved and the delimiters of paths and queries. */
const KEPT = /[A-Za-z0-9\-._~/?&=+;,:@!$()*]/
const UNRESERVED = /[A-Za-z0-9\-._~]/
const HEX = '0123456789ABCDEF'

function encodeChar(char: string): string {
  let out = ''
  for (const b of Buffer.from(char, 'utf8')) out += `%${HEX[b >> 4]}${HEX[b & 15]}`
  return out
}

/**
 * One spelling per request target, whoever wrote it (a client's raw request line, or
 * `new URL(...)` in a purge): a percent-encoded unreserved character is decoded (`%69` → `i`),
 * other triplets are upper-cased, and every character outside the unreserved set and the path
 * and query delimiters (`' " < > { } \` `, space, controls, non-ASCII) is percent-encoded as
 * UTF-8, as `new URL()` does. Dot segments are left alone: `/a/../b` is not `/b` for a router
 * that matches raw paths.
 */
export function canonicalTarget(target: string): string {
  let simple = true
  for (let i = 0; i < target.length; i++) {
    const c = target[i] as string
    if (c === '%' || !KEPT.test(c)) {
      simple = false
      break
    }
  }
  if (simple) return target
  let out = ''
  for (let i = 0; i < target.length; i++) {
    const c = target[i] as string
    if (c === '%' && /^[0-9A-Fa-f]{2}$/.test(target.slice(i + 1, i + 3))) {
      const byte = Number.parseInt(target.slice(i + 1, i + 3), 16)
      const ch = String.fromCharCode(byte)
      out += UNRESERVED.test(ch) ? ch : `%${target.slice(i + 1, i + 3).toUpperCase()}`
      i += 2
    } else if (KEPT.test(c)) out += c
    else {
      const code = target.codePointAt(i) as number
      const char = String.fromCodePoint(code)
      out += encodeChar(char)
      i += char.length - 1
    }
  }
  return out
}

function decodedName(part: string): string {
  const eq = part.indexOf('=')
  const raw = (eq === -1 ? part : part.slice(0, eq)).replace(/\+/g, ' ')
  try {
    return decodeURIComponent(raw)
  } catch {
    return raw
  }
}

/**
 * Sorts a query string's parameters by their decoded names, keeping the order of parameters
 * whose names decode alike (`id` and `%69d` are one name to the application, which may read the
 * first). Values are kept as sent.
 */
export function sortQuery(query: string): string {
  if (query.length === 0) return ''
  if (!query.includes('&')) return query
  const parts = query.split('&').filter((p) => p.length > 0)
  const named = parts.map((p, i) => ({ p, name: decodedName(p), i }))
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.i - b.i))
  return named.map((n) => n.p).join('&')
}

/** How a route keys its query strings (from the `query` option). */
export interface QueryRules {
  readonly allow: ReadonlySet<string> | undefined
  readonly ignore: ReadonlySet<string>
}

/**
 * The canonical path and query of a request target under a route's query rules: canonical
 * spelling, `ignore`d parameters dropped, the rest sorted by decoded name. Null when the target
 * has a parameter `allow` does not list (the request then bypasses the cache).
 */
export function keyTarget(url: string, rules?: QueryRules): { path: string; target: string } | null {
  const t = canonicalTarget(url)
  const q = t.indexOf('?')
  if (q === -1) return { path: t, target: t }
  const path = t.slice(0, q)
  let query = t.slice(q + 1)
  if (rules !== undefined && (rules.allow !== undefined || rules.ignore.size > 0) && query.length > 0) {
    const kept: string[] = []
    for (const part of query.split('&')) {
      if (part.length === 0) continue
      const name = decodedName(part)
      if (rules.ignore.has(name)) continue
      if (rules.allow !== undefined && !rules.allow.has(name)) return null
      kept.push(part)
    }
    query = kept.join('&')
  }
  query = sortQuery(query)
  return { path, target: query === '' ? path : `${path}?${query}` }
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/** The key of a canonical target (see {@link keyTarget}). */
export function keyOf(cls: MethodClass, protocol: string, host: string, target: string): string {
  return hash(`${cls}\n${protocol.toLowerCase()}\n${host.toLowerCase()}\n${target}`)
}

/** Recently built primary keys: a hit then costs a Map lookup instead of a SHA-256. */
const memo = new Map<string, string>()
const MEMO_SIZE = 10_000

/**
 * The primary key of a URL: SHA-256 (base64url) of method class, scheme, host and the canonical
 * target (canonical spelling, query sorted by decoded parameter name). Storing, lookup,
 * invalidation and purge all key through this function. The fragment never reaches a server.
 *
 * @param url - origin-form path and query (`/a?b=1`)
 */
export function primaryKey(cls: MethodClass, protocol: string, host: string, url: string): string {
  const raw = `${cls}\n${protocol}\n${host}\n${url}`
  const known = memo.get(raw)
  if (known !== undefined) return known
  const key = keyOf(cls, protocol, host, (keyTarget(url) as { target: string }).target)
  if (raw.length <= 512) {
    if (memo.size >= MEMO_SIZE) memo.clear()
    memo.set(raw, key)
  }
  return key
}

/** The key of one variant under a primary key: the values of the `Vary` headers, hashed. */
export function variantKey(primary: string, gen: string, values: readonly string[]): string {
  return `${primary}:${gen}:${hash(values.join('\n'))}`
}
