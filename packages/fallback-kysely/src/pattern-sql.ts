/**
 * Translating tiercache key patterns (parsed globs) and namespace prefixes into SQL that matches
 * exactly: `LIKE … ESCAPE '!'` for PostgreSQL and MySQL, `GLOB` for SQLite (case-sensitive,
 * unlike SQLite's `LIKE`), and a half-open key range `[lower, upper)` so prefix matches use
 * the primary-key index.
 *
 * Every dialect here compares keys in code-point order: SQLite's `BINARY` collation and
 * PostgreSQL's `COLLATE "C"` compare UTF-8 bytes, and MySQL's `VARBINARY` too; UTF-8 byte
 * order is code-point order.
 *
 * @module
 */
import type { PatternToken } from '@tiercache/core/store'

/** The escape character used in `LIKE` patterns. Not `\`, which MySQL string literals eat. */
export const LIKE_ESCAPE = '!'

/**
 * Escapes `%`, `_` and the escape character so `text` matches only itself in a `LIKE`.
 *
 * @param text - literal text
 */
export function escapeLike(text: string): string {
  return text.replace(/[%_!]/g, '!$&')
}

/**
 * Escapes `*`, `?` and `[` (as `[*]`, `[?]`, `[[]`) so `text` matches only itself in a SQLite
 * `GLOB`. `]` and `\` are literal in a GLOB outside brackets.
 *
 * @param text - literal text
 */
export function escapeGlob(text: string): string {
  return text.replace(/[*?[]/g, '[$&]')
}

/**
 * A pattern as a `LIKE` operand (escape character {@link LIKE_ESCAPE}).
 *
 * @param tokens - parsed pattern
 */
export function toLike(tokens: readonly PatternToken[]): string {
  let out = ''
  for (const t of tokens) out += t.type === 'star' ? '%' : t.type === 'any' ? '_' : escapeLike(t.value)
  return out
}

/**
 * A pattern as a SQLite `GLOB` operand.
 *
 * @param tokens - parsed pattern
 */
export function toGlob(tokens: readonly PatternToken[]): string {
  let out = ''
  for (const t of tokens) out += t.type === 'star' ? '*' : t.type === 'any' ? '?' : escapeGlob(t.value)
  return out
}

const MAX_CODE_POINT = 0x10ffff

/**
 * The smallest string greater than every string that starts with `prefix`, in code-point order:
 * `prefix` with its last code point incremented (skipping surrogates; dropping trailing
 * U+10FFFF). `undefined` when there is none (empty prefix, or only U+10FFFF).
 *
 * Keys `k` with `prefix <= k < upper` are exactly the keys that start with `prefix`.
 *
 * @param prefix - the literal prefix
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (ch) => ch.codePointAt(0) as number)
  while (points.length > 0) {
    const last = points.pop() as number
    if (last >= MAX_CODE_POINT) continue
    let next = last + 1
    if (next >= 0xd800 && next <= 0xdfff) next = 0xe000
    points.push(next)
    return String.fromCodePoint(...points)
  }
  return undefined
}

/** A pattern split into what SQL needs: an exact key, or a key range plus a full match. */
export type PatternPlan =
  | { readonly kind: 'exact'; readonly key: string }
  | {
      readonly kind: 'match'
      /** Literal text every match starts with (`''` when none). */
      readonly prefix: string
      /** Exclusive upper bound of the prefix range; `undefined` for none. */
      readonly upper: string | undefined
      /** Whether the range alone decides (the pattern is `prefix*`), so no LIKE/GLOB is needed. */
      readonly rangeOnly: boolean
      /** The LIKE operand (escape `!`). */
      readonly like: string
      /** The SQLite GLOB operand. */
      readonly glob: string
    }

/**
 * Plans the SQL for a parsed pattern.
 *
 * @param tokens - parsed pattern (see `parsePattern` in `@tiercache/core`)
 */
export function planPattern(tokens: readonly PatternToken[]): PatternPlan {
  const [first, second] = tokens
  if (tokens.length === 1 && first?.type === 'literal') return { kind: 'exact', key: first.value }
  const prefix = first?.type === 'literal' ? first.value : ''
  const upper = prefix ? prefixUpperBound(prefix) : undefined
  return {
    kind: 'match',
    prefix,
    upper,
    rangeOnly: upper !== undefined && tokens.length === 2 && second?.type === 'star',
    like: toLike(tokens),
    glob: toGlob(tokens),
  }
}
