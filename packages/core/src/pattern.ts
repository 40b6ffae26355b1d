import { InvalidPatternError } from './errors.js'

/**
 * Key patterns are globs: `*` matches any run of characters (including none and including `:`),
 * `?` matches exactly one character, and `\` makes the next character literal. Every other
 * character is literal, including `[`, `]`, `%` and `_`.
 *
 * Stores translate the parsed form ({@link parsePattern}) into their own syntax (a Redis `MATCH`
 * glob, a SQL `LIKE … ESCAPE`, a RegExp), so a pattern means the same thing in every tier.
 */
export type PatternToken =
  | { readonly type: 'literal'; readonly value: string }
  | { readonly type: 'star' }
  | { readonly type: 'any' }

/**
 * Escapes `*`, `?` and `\` so `input` matches only itself.
 *
 * @param input - untrusted text to embed in a pattern
 * @example
 * ```ts
 * await cache.deleteByPattern(`search:${escapePattern(userQuery)}:*`)
 * ```
 */
export function escapePattern(input: string): string {
  return input.replace(/[*?\\]/g, '\\$&')
}

/**
 * Parses a glob into tokens. Adjacent literal characters are merged; consecutive `*` collapse.
 *
 * @param pattern - a non-empty glob
 * @throws InvalidPatternError (`E_INVALID_PATTERN`) when the pattern is not a non-empty string or
 *   ends in a lone `\`
 */
export function parsePattern(pattern: unknown): PatternToken[] {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new InvalidPatternError('a pattern must be a non-empty string')
  }
  const tokens: PatternToken[] = []
  let literal = ''
  const flush = (): void => {
    if (literal) tokens.push({ type: 'literal', value: literal })
    literal = ''
  }
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string
    if (ch === '\\') {
      if (i + 1 >= pattern.length) {
        throw new InvalidPatternError(`pattern "${pattern.slice(0, 80)}" ends with a lone backslash`)
      }
      literal += pattern[++i]
    } else if (ch === '*') {
      flush()
      if (tokens.at(-1)?.type !== 'star') tokens.push({ type: 'star' })
    } else if (ch === '?') {
      flush()
      tokens.push({ type: 'any' })
    } else {
      literal += ch
    }
  }
  flush()
  return tokens
}

/**
 * The literal text every matching key starts with (useful for index range scans).
 *
 * @param tokens - parsed pattern
 */
export function patternPrefix(tokens: readonly PatternToken[]): string {
  const first = tokens[0]
  return first?.type === 'literal' ? first.value : ''
}

/** Serialises tokens back to a canonical glob (with `\` escapes). */
export function formatPattern(tokens: readonly PatternToken[]): string {
  let out = ''
  for (const t of tokens) out += t.type === 'star' ? '*' : t.type === 'any' ? '?' : escapePattern(t.value)
  return out
}

/**
 * Compiles a pattern to an anchored RegExp (with the `u` and `s` flags, so `?` is one code
 * point and `*` crosses newlines).
 *
 * @param pattern - a glob or its tokens
 */
export function patternToRegExp(pattern: string | readonly PatternToken[]): RegExp {
  const tokens = typeof pattern === 'string' ? parsePattern(pattern) : pattern
  let src = '^'
  for (const t of tokens) {
    if (t.type === 'star') src += '.*'
    else if (t.type === 'any') src += '.'
    else src += t.value.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&')
  }
  return new RegExp(`${src}$`, 'su')
}

/**
 * Builds a predicate that tests keys against a pattern. Pure-prefix patterns (`user:*`) are
 * tested with `startsWith`, without a RegExp.
 *
 * @param pattern - a glob or its tokens
 */
export function compilePattern(pattern: string | readonly PatternToken[]): (key: string) => boolean {
  const tokens = typeof pattern === 'string' ? parsePattern(pattern) : pattern
  const [a, b] = tokens
  if (tokens.length === 2 && a?.type === 'literal' && b?.type === 'star') {
    const prefix = a.value
    return (key) => key.startsWith(prefix)
  }
  if (tokens.length === 1 && a?.type === 'literal') {
    const exact = a.value
    return (key) => key === exact
  }
  const re = patternToRegExp(tokens)
  return (key) => re.test(key)
}
