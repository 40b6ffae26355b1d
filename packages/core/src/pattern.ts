import { InvalidPatternError } from './errors.js'
import { isPortableText, portabilityProblem } from './keys.js'

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
 * @throws InvalidPatternError (`E_INVALID_PATTERN`) when the pattern is not a non-empty string,
 *   ends in a lone `\`, or holds what no key can hold (a lone surrogate or a NUL character)
 */
export function parsePattern(pattern: unknown): PatternToken[] {
  if (typeof pattern !== 'string' || pattern.length === 0) {
    throw new InvalidPatternError('a pattern must be a non-empty string')
  }
  if (!isPortableText(pattern)) {
    throw new InvalidPatternError(`pattern ${portabilityProblem(pattern)}, which no key can hold`)
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
 * point and `*` crosses newlines). A RegExp backtracks: a pattern with many `*` can take time
 * exponential in their number on a long key. {@link compilePattern} does not.
 *
 * @param pattern - a glob or its tokens
 */
export function patternToRegExp(pattern: string | readonly PatternToken[]): RegExp {
  const tokens = typeof pattern === 'string' ? parsePattern(pattern) : pattern
  let src = '^'
  for (const t of tokens) {
    if (t.type === 'star') src += '.*'
    else if (t.type === 'any') src += '.'
    // Only RegExp syntax characters: with the `u` flag an escaped `-` (or any other identity
    // escape) is a syntax error.
    else src += t.value.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')
  }
  return new RegExp(`${src}$`, 'su')
}

const STAR = -1
const ANY = -2

/** Length in code units of the code point at `i`: 2 for a surrogate pair, else 1. */
function pointLength(s: string, i: number): number {
  const c = s.charCodeAt(i)
  if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
    const d = s.charCodeAt(i + 1)
    if (d >= 0xdc00 && d <= 0xdfff) return 2
  }
  return 1
}

/**
 * Matches `key` against a pattern flattened to code units (`STAR`, `ANY`, or a literal code
 * unit). Greedy with a single backtrack point (the last `*`), so it runs in O(key × pattern)
 * time whatever the pattern: no exponential backtracking.
 */
function globMatch(units: Int32Array, key: string): boolean {
  const m = units.length
  const n = key.length
  let p = 0
  let k = 0
  let starP = -1
  let starK = 0
  while (k < n) {
    const u = p < m ? (units[p] as number) : 0
    if (p < m && u === ANY) {
      k += pointLength(key, k)
      p++
    } else if (p < m && u === STAR) {
      starP = p++
      starK = k
    } else if (p < m && u === key.charCodeAt(k)) {
      p++
      k++
    } else if (starP !== -1) {
      // Let the last `*` swallow one more code point and retry from there.
      starK += pointLength(key, starK)
      k = starK
      p = starP + 1
    } else {
      return false
    }
  }
  while (p < m && units[p] === STAR) p++
  return p === m
}

/**
 * Builds a predicate that tests keys against a pattern, in time linear in the key for each
 * pattern character (never exponential, however many `*` the pattern holds). Pure-prefix
 * (`user:*`) and literal patterns are tested with `startsWith` and `===`.
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
  const flat: number[] = []
  for (const t of tokens) {
    if (t.type === 'star') flat.push(STAR)
    else if (t.type === 'any') flat.push(ANY)
    else for (let i = 0; i < t.value.length; i++) flat.push(t.value.charCodeAt(i))
  }
  const units = Int32Array.from(flat)
  const prefix = patternPrefix(tokens)
  return (key) => key.startsWith(prefix) && globMatch(units, key)
}
