import type { Directives } from './headers.js'

/** Directives whose value must be a non-negative integer. */
const INTEGER_DIRECTIVES = new Set(['max-age', 's-maxage', 'stale-while-revalidate', 'stale-if-error'])

/** Parses one RFC 8941 bare item at `i`; returns its value and the next index, or undefined. */
function bareItem(text: string, i: number): { value: string | number | boolean; next: number } | undefined {
  const c = text[i]
  if (c === undefined) return undefined
  if (c === '-' || (c >= '0' && c <= '9')) {
    const m = /^-?(\d{1,15})(\.\d{1,3})?/.exec(text.slice(i))
    if (m === null) return undefined
    if (m[2] !== undefined && (m[1] as string).length > 12) return undefined
    const next = i + m[0].length
    const after = text[next]
    if (after !== undefined && /[\d.]/.test(after)) return undefined
    return { value: Number(m[0]), next }
  }
  if (c === '"') {
    let out = ''
    for (let j = i + 1; j < text.length; j++) {
      const ch = text[j] as string
      if (ch === '\\') {
        const esc = text[j + 1]
        if (esc !== '"' && esc !== '\\') return undefined
        out += esc
        j++
      } else if (ch === '"') return { value: out, next: j + 1 }
      else if (ch < ' ' || ch > '~') return undefined
      else out += ch
    }
    return undefined
  }
  if (c === '?') {
    const b = text[i + 1]
    if (b !== '0' && b !== '1') return undefined
    return { value: b === '1', next: i + 2 }
  }
  if (c === ':') {
    const end = text.indexOf(':', i + 1)
    if (end === -1 || !/^[A-Za-z0-9+/=]*$/.test(text.slice(i + 1, end))) return undefined
    return { value: text.slice(i + 1, end), next: end + 1 }
  }
  const m = /^[A-Za-z*][!#$%&'*+\-.^_`|~0-9A-Za-z:/]*/.exec(text.slice(i))
  if (m === null) return undefined
  return { value: `\u0000token:${m[0]}`, next: i + m[0].length }
}

const KEY = /^[a-z*][a-z0-9_\-.*]*/

/** Skips `;key[=item]` parameters. */
function params(text: string, i: number): number | undefined {
  let j = i
  while (text[j] === ';') {
    j++
    while (text[j] === ' ') j++
    const k = KEY.exec(text.slice(j))
    if (k === null) return undefined
    j += k[0].length
    if (text[j] === '=') {
      const v = bareItem(text, j + 1)
      if (v === undefined) return undefined
      j = v.next
    }
  }
  return j
}

/**
 * Parses a targeted cache-control field (RFC 9213, e.g. `CDN-Cache-Control`): an RFC 8941
 * Dictionary. Returns the directives (lower-case names; `true` for boolean directives; numbers
 * as decimal strings), or undefined when the field is absent, empty or does not parse (then the
 * cache ignores it, RFC 9213 §2.1). `max-age`, `s-maxage`, `stale-while-revalidate` and
 * `stale-if-error` must be non-negative integers, else the whole field is invalid. A list value
 * (`private="x"`) counts as the directive without qualification.
 */
export function parseTargeted(
  value: string | readonly string[] | number | undefined,
): Directives | undefined {
  if (value === undefined) return undefined
  const text = (Array.isArray(value) ? value.join(', ') : String(value)).replace(/^[ \t]+|[ \t]+$/g, '')
  if (text.length === 0) return undefined
  const out: Directives = {}
  let i = 0
  for (;;) {
    const k = KEY.exec(text.slice(i))
    if (k === null) return undefined
    const name = k[0]
    i += name.length
    let v: string | true | undefined = true
    if (text[i] === '=') {
      i++
      if (text[i] === '(') {
        // inner list: skip to its end
        let j = i + 1
        for (;;) {
          while (text[j] === ' ') j++
          if (text[j] === ')') break
          const item = bareItem(text, j)
          if (item === undefined) return undefined
          const p = params(text, item.next)
          if (p === undefined) return undefined
          j = p
          if (text[j] !== ' ' && text[j] !== ')') return undefined
        }
        i = j + 1
      } else {
        const item = bareItem(text, i)
        if (item === undefined) return undefined
        i = item.next
        const raw = item.value
        if (INTEGER_DIRECTIVES.has(name)) {
          if (typeof raw !== 'number' || !Number.isInteger(raw) || raw < 0) return undefined
          v = String(raw)
        } else if (raw === false) v = undefined
        else v = true
      }
    } else if (INTEGER_DIRECTIVES.has(name)) return undefined
    const p = params(text, i)
    if (p === undefined) return undefined
    i = p
    if (v !== undefined) out[name] = v
    else delete out[name]
    while (text[i] === ' ' || text[i] === '\t') i++
    if (i >= text.length) return out
    if (text[i] !== ',') return undefined
    i++
    while (text[i] === ' ' || text[i] === '\t') i++
    if (i >= text.length) return undefined
  }
}
