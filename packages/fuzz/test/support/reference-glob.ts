/**
 * The documented glob semantics, written independently of core's matcher: `*` any run of
 * characters (none included, `:` included), `?` exactly one character (a code point), `\` makes
 * the next character literal, everything else literal. Dynamic programming over code points.
 */
type Token = { t: 'lit'; c: string } | { t: 'star' } | { t: 'any' }

function tokens(pattern: string): Token[] {
  const out: Token[] = []
  const chars = Array.from(pattern)
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i] as string
    if (c === '\\') out.push({ t: 'lit', c: chars[++i] as string })
    else if (c === '*') out.push({ t: 'star' })
    else if (c === '?') out.push({ t: 'any' })
    else out.push({ t: 'lit', c })
  }
  return out
}

/** True when `key` matches the glob `pattern` (which must not end in a lone `\`). */
export function referenceMatch(pattern: string, key: string): boolean {
  const p = tokens(pattern)
  const k = Array.from(key)
  // can[i][j]: pattern from token i matches key from code point j
  let next: boolean[] = new Array(k.length + 1).fill(false)
  next[k.length] = true
  for (let i = p.length - 1; i >= 0; i--) {
    const t = p[i] as Token
    const cur: boolean[] = new Array(k.length + 1).fill(false)
    for (let j = k.length; j >= 0; j--) {
      if (t.t === 'star') cur[j] = (next[j] as boolean) || (j < k.length && (cur[j + 1] as boolean))
      else if (j === k.length) cur[j] = false
      else if (t.t === 'any') cur[j] = next[j + 1] as boolean
      else cur[j] = t.c === k[j] && (next[j + 1] as boolean)
    }
    next = cur
  }
  return next[0] as boolean
}

/** Escapes `*`, `?` and `\` so `text` matches only itself (the documented `escapePattern`). */
export function referenceEscape(text: string): string {
  let out = ''
  for (const c of text) out += c === '*' || c === '?' || c === '\\' ? `\\${c}` : c
  return out
}
