import { createHash, randomBytes } from 'node:crypto'

/**
 * Namespace generations, for adapters that cannot list their keys.
 *
 * `clear(ns)` must remove every key that starts with `ns + ':'`. Without a way to list keys, the
 * store instead writes a new random token (a generation marker) for `ns`. Every entry records a
 * stamp of the markers of all namespaces that could clear it when it is written; when any of
 * those markers changes, the stamp no longer matches and the entry reads as missing.
 *
 * The namespaces that can clear a key are `''` (everything) and each prefix of the key that ends
 * just before a `:`: `app:users:1` can be cleared by `''`, `app` and `app:users`.
 *
 * @module
 */

/**
 * The namespaces whose `clear` removes `key`, outermost first: `''`, then each prefix of `key`
 * that ends before a `:`.
 *
 * @param key - a store key
 */
export function clearingNamespaces(key: string): string[] {
  const out = ['']
  for (let i = key.indexOf(':'); i !== -1; i = key.indexOf(':', i + 1)) {
    if (i > 0) out.push(key.slice(0, i))
  }
  return out
}

/**
 * The stamp of a set of marker tokens, in the order {@link clearingNamespaces} gives them.
 * Missing markers count as `''`. 22 characters of base64url.
 *
 * @param tokens - the marker tokens
 */
export function stampOf(tokens: readonly string[]): string {
  return createHash('sha256').update(tokens.join('\n')).digest('base64url').slice(0, 22)
}

/** A fresh marker token: 16 random characters of base64url. */
export function newGeneration(): string {
  return randomBytes(12).toString('base64url')
}
