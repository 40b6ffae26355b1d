import type { PatternToken } from '@tiercache/core/store'

/** Escapes the characters Redis `MATCH` globs treat specially: `* ? [ ] \ ^`. */
export function escapeRedisGlob(literal: string): string {
  return literal.replace(/[*?[\]\\^]/g, '\\$&')
}

/**
 * Translates parsed pattern tokens to a Redis `MATCH` glob that matches a superset of the
 * pattern: `*` stays `*`, literals are escaped, and `?` becomes `*` because Redis matches `?`
 * against one byte while a tiercache `?` is one character (up to 4 UTF-8 bytes). The caller
 * filters the scanned keys with the exact pattern.
 *
 * @param tokens - from `parsePattern`
 */
export function tokensToRedisGlob(tokens: readonly PatternToken[]): string {
  let out = ''
  for (const t of tokens) {
    if (t.type === 'literal') out += escapeRedisGlob(t.value)
    else out += '*'
  }
  return out
}
