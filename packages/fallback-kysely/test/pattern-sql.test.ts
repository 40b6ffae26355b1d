import { parsePattern } from '@tiercache/core/store'
import { describe, expect, test } from 'vitest'
import { escapeGlob, escapeLike, planPattern, prefixUpperBound, toGlob, toLike } from '../src/pattern-sql.js'

describe('pattern translation', () => {
  test('LIKE escapes %, _ and the escape character; GLOB escapes *, ? and [', () => {
    expect(escapeLike('100%_off!\\')).toBe('100!%!_off!!\\')
    expect(escapeGlob('a*b?c[d]e\\')).toBe('a[*]b[?]c[[]d]e\\')
  })

  test('globs become LIKE and GLOB operands', () => {
    const tokens = parsePattern('app:user\\*:?:%_*')
    expect(toLike(tokens)).toBe('app:user*:_:!%!_%')
    expect(toGlob(tokens)).toBe('app:user[*]:?:%_*')
  })

  test('plans: exact keys, prefix ranges, range-only prefixes', () => {
    expect(planPattern(parsePattern('app:k\\*'))).toEqual({ kind: 'exact', key: 'app:k*' })
    expect(planPattern(parsePattern('app:user:*'))).toMatchObject({
      kind: 'match',
      prefix: 'app:user:',
      upper: 'app:user;',
      rangeOnly: true,
    })
    expect(planPattern(parsePattern('app:user:?'))).toMatchObject({ prefix: 'app:user:', rangeOnly: false })
    expect(planPattern(parsePattern('*:x'))).toMatchObject({ prefix: '', upper: undefined, rangeOnly: false })
  })

  test('the prefix upper bound is exact in code-point order', () => {
    expect(prefixUpperBound('ns:')).toBe('ns;')
    expect(prefixUpperBound('a\u{10FFFF}')).toBe('b')
    expect(prefixUpperBound('\u{10FFFF}')).toBeUndefined()
    expect(prefixUpperBound('')).toBeUndefined()
    expect(prefixUpperBound('x\uD7FF')).toBe('x\uE000')
    expect(prefixUpperBound('日')).toBe('旦')
    expect(prefixUpperBound('🌍')).toBe('🌎')
    // Every key that starts with the prefix sorts inside [prefix, upper), lookalikes outside.
    const byCodePoint = (a: string, b: string): number => {
      const x = Array.from(a, (c) => c.codePointAt(0)!)
      const y = Array.from(b, (c) => c.codePointAt(0)!)
      for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
      return x.length - y.length
    }
    const prefix = 'ns:ü'
    const upper = prefixUpperBound(prefix)!
    for (const key of ['ns:ü', 'ns:ü\u{10FFFF}', 'ns:üü', 'ns:ü:1']) {
      expect(byCodePoint(key, prefix) >= 0 && byCodePoint(key, upper) < 0, key).toBe(true)
    }
    for (const key of ['ns:u', 'ns:ý', 'ns:', 'ns;ü', 'ns:ÿ']) {
      expect(byCodePoint(key, prefix) >= 0 && byCodePoint(key, upper) < 0, key).toBe(false)
    }
  })
})
