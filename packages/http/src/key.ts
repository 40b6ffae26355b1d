import { createHash } from 'node:crypto'

/** Method class in a key: GET responses (which also answer HEAD) and stored HEAD responses. */
export type MethodClass = 'G' | 'H'

/**
 * Sorts a query string's parameters by name, keeping the order of repeated names (which may
 * matter to the application). Values are kept as sent.
 */
export function sortQuery(query: string): string {
  if (query.length === 0) return ''
  if (!query.includes('&')) return query
  const parts = query.split('&').filter((p) => p.length > 0)
  const named = parts.map((p, i) => ({ p, name: p.split('=', 1)[0] as string, i }))
  named.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.i - b.i))
  return named.map((n) => n.p).join('&')
}

function hash(text: string): string {
  return createHash('sha256').update(text).digest('base64url')
}

/** Recently built primary keys: a hit then costs a Map lookup instead of a SHA-256. */
const memo = new Map<string, string>()
const MEMO_SIZE = 10_000

/**
 * The primary key of a URL: SHA-256 (base64url) of method class, scheme, host, path and sorted
 * query. The path is taken as sent (no decoding), the fragment never reaches a server.
 *
 * @param url - origin-form path and query (`/a?b=1`)
 */
export function primaryKey(cls: MethodClass, protocol: string, host: string, url: string): string {
  const raw = `${cls}\n${protocol}\n${host}\n${url}`
  const known = memo.get(raw)
  if (known !== undefined) return known
  const q = url.indexOf('?')
  const query = q === -1 ? '' : sortQuery(url.slice(q + 1))
  const target = q === -1 ? url : query === '' ? url.slice(0, q) : `${url.slice(0, q)}?${query}`
  const key = hash(`${cls}\n${protocol.toLowerCase()}\n${host.toLowerCase()}\n${target}`)
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
