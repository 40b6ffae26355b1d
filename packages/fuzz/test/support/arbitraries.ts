/**
 * Hostile inputs: keys, values, durations, tags, patterns and namespace names, each mixing the
 * well-formed with the malformed, so a property sees both sides of every validation.
 */
import { isPortableText } from '@tiercache/core/store'
import fc from 'fast-check'

/** Characters that break naive code: controls, NUL, glob/LIKE/RegExp/SQL syntax, bidi, lone surrogates. */
const SPECIAL_CHARS = [
  '\u0000',
  '\r',
  '\n',
  '\t',
  ' ',
  '*',
  '?',
  '\\',
  '[',
  ']',
  '^',
  '$',
  '%',
  '_',
  '-',
  ':',
  '#',
  '.',
  '/',
  '"',
  "'",
  ';',
  '(',
  ')',
  '{',
  '}',
  '|',
  '+',
  '!',
  '`',
  '\u202E',
  '\u200F',
  '\u2066',
  '\uFEFF',
  '\u00A0',
  '\uFFFD',
  '\uD800',
  '\uDBFF',
  '\uDC00',
  '\uDFFF',
  '🌍',
  'é',
  'e\u0301',
  'ß',
  'İ',
  '日',
  'A',
  'a',
] as const

/** One hostile character (sometimes a short sequence). */
export const hostileChar: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...SPECIAL_CHARS) },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 1 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
)

/** Text made of hostile characters. */
export const hostileText = (maxLength: number, minLength = 0): fc.Arbitrary<string> =>
  fc.string({ unit: hostileChar, minLength, maxLength })

/** 1,024 and 1,025 UTF-8 bytes, in ASCII and in 3-byte characters. */
const LONG_KEYS = [
  'a'.repeat(1024),
  'a'.repeat(1025),
  `${'€'.repeat(341)}a`,
  `${'€'.repeat(341)}ab`,
  '🌍'.repeat(256),
]

/** Keys: mostly strings of hostile characters, plus edge cases and non-strings. */
export const hostileKey: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: hostileText(16) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '',
      '__proto__',
      'constructor',
      'toString',
      '\uD800',
      'a\uD800',
      'x\uDC00y',
      '\u0000',
      'a\u0000b',
      "'; DROP TABLE fuzz_entries; --",
      '*',
      '?',
      '\\',
      '%',
      '_',
      ':',
      'fz',
      'a:b:c',
      ...LONG_KEYS,
    ),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(42, null, undefined, true, {}, ['k'], Symbol('k'), 1n) },
)

/** Keys that are valid (so a write is accepted as far as the key goes). */
export const validKey: fc.Arbitrary<string> = fc
  .oneof(
    { weight: 6, arbitrary: fc.string({ unit: hostileChar, minLength: 1, maxLength: 12 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '__proto__',
        'constructor',
        'a',
        'b',
        'a:b',
        '*',
        '%_',
        `${'€'.repeat(341)}a`,
      ),
    },
  )
  .filter(isPortableText)

/** Object keys for values: hostile text plus the keys that trip encoders. */
const objectKey: fc.Arbitrary<string> = fc.oneof(
  hostileText(6),
  fc.constantFrom('__proto__', '~t', 'constructor', 'toString', 'v', 'c', '0', '1', 'length', ''),
)

/** Builds an object with `defineProperty`, so `__proto__` becomes an own key. */
const defineAll = (entries: readonly (readonly [string, unknown])[], nullProto: boolean): object => {
  const o = nullProto ? Object.create(null) : {}
  for (const [k, v] of entries) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true })
  }
  return o
}

const REGEXPS = [/a+b/g, /x/iu, /[\u{1F30D}]/u, /^$/m, /\\d+(?:\.\d+)?/s, /[/]/]

/** A leaf of every type the default serializer claims. */
const leaf: fc.Arbitrary<unknown> = fc.oneof(
  hostileText(12),
  fc.double(),
  fc.integer(),
  fc.constantFrom(0, -0, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 2 ** 53, -(2 ** 53)),
  fc.boolean(),
  fc.constant(null),
  fc.bigInt(),
  fc.date({ noInvalidDate: false }),
  fc.uint8Array({ maxLength: 12 }).map((a) => Buffer.from(a)),
  fc.uint8Array({ maxLength: 12 }),
  fc.int16Array({ maxLength: 6 }),
  fc.float32Array({ maxLength: 6 }),
  fc.float64Array({ maxLength: 6 }),
  fc.bigInt64Array({ maxLength: 4 }),
  fc.uint8Array({ maxLength: 12 }).map((a) => a.slice().buffer),
  fc.constantFrom(...REGEXPS).map((r) => new RegExp(r.source, r.flags)),
)

/** Values of the claimed types, nested a few levels: what must read back equal from every tier. */
export const claimedValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  any: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    tie('array'),
    tie('object'),
    tie('map'),
    tie('set'),
  ),
  member: fc.oneof({ weight: 9, arbitrary: tie('any') }, { weight: 1, arbitrary: fc.constant(undefined) }),
  array: fc.array(tie('member'), { maxLength: 5 }),
  object: fc
    .tuple(fc.array(fc.tuple(objectKey, tie('member')), { maxLength: 5 }), fc.boolean())
    .map(([entries, nullProto]) => defineAll(entries, nullProto)),
  map: fc.array(fc.tuple(tie('any'), tie('member')), { maxLength: 4 }).map((e) => new Map(e)),
  set: fc.array(tie('any'), { maxLength: 4 }).map((a) => new Set(a)),
})).any

const nest = (depth: number, leafValue: unknown, wrap: (v: unknown) => unknown): unknown => {
  let v = leafValue
  for (let i = 0; i < depth; i++) v = wrap(v)
  return v
}

/** Values that must be refused with a typed error (E_INVALID_VALUE or E_SERIALIZE). */
export const refusedValue: fc.Arbitrary<{ what: string; make: () => unknown }> = fc.constantFrom(
  { what: 'undefined', make: () => undefined },
  { what: 'a function', make: () => () => 1 },
  { what: 'a nested function', make: () => ({ a: [1, { f() {} }] }) },
  { what: 'a symbol', make: () => Symbol('s') },
  { what: 'a nested symbol', make: () => ({ d: new Date(0), s: Symbol('s') }) },
  {
    what: 'a cycle',
    make: () => {
      const o: Record<string, unknown> = { a: 1 }
      o.self = o
      return o
    },
  },
  {
    what: 'a cycle through a Map',
    make: () => {
      const m = new Map<string, unknown>()
      m.set('me', { m })
      return m
    },
  },
  {
    what: 'a cycle in an array 60 levels down',
    make: () => {
      const top: unknown[] = []
      let cur = top
      for (let i = 0; i < 60; i++) {
        const next: unknown[] = []
        cur.push(next)
        cur = next
      }
      cur.push(top)
      return top
    },
  },
  {
    what: 'a throwing getter',
    make: () => ({
      get x() {
        throw new Error('getter')
      },
    }),
  },
  {
    what: 'a throwing getter beside a BigInt',
    make: () => ({
      n: 1n,
      get x() {
        throw new TypeError('getter')
      },
    }),
  },
  {
    what: 'a throwing toJSON',
    make: () => ({
      toJSON() {
        throw new Error('toJSON')
      },
    }),
  },
  { what: 'a toJSON returning undefined', make: () => ({ toJSON: () => undefined }) },
  { what: 'a toJSON returning a function', make: () => ({ toJSON: () => () => 1 }) },
  {
    what: 'a Proxy with a throwing ownKeys trap',
    make: () =>
      new Proxy(
        {},
        {
          ownKeys() {
            throw new Error('trap')
          },
        },
      ),
  },
  { what: 'a DataView', make: () => new DataView(new ArrayBuffer(4)) },
  { what: '1,001 nested arrays', make: () => nest(1001, 1, (v) => [v]) },
  { what: '20,000 nested objects', make: () => nest(20_000, 1, (v) => ({ v })) },
  {
    what: '5,000 nested maps around a Date',
    make: () => nest(5000, new Date(0), (v) => new Map([['k', v]])),
  },
)

/** Values that are accepted but are not of a claimed type: remote tiers return them normalised. */
export const normalisedValue: fc.Arbitrary<{ what: string; make: () => unknown }> = fc.constantFrom(
  {
    what: 'a class instance',
    make: () =>
      new (class Point {
        x = 1
        y = [2]
      })(),
  },
  { what: 'an object with toJSON', make: () => ({ toJSON: () => ({ iso: 'x', n: 1 }) }) },
  { what: 'an Error', make: () => new Error('e') },
  { what: 'a WeakMap', make: () => new WeakMap() },
  { what: 'symbol keys', make: () => ({ [Symbol('s')]: 1, a: 2 }) },
  {
    what: 'a sparse array',
    make: () => {
      const a: number[] = [1]
      a[2] = 3
      return a
    },
  },
  {
    what: 'a getter',
    make: () => ({
      get g() {
        return 7
      },
    }),
  },
  { what: 'an array with an extra property', make: () => Object.assign([1, 2], { extra: true }) },
  { what: 'a Proxy over an array', make: () => new Proxy([1, 2, 3], {}) },
)

/** Big values, accepted and claimed. */
export const hugeValue: fc.Arbitrary<{ what: string; make: () => unknown }> = fc.constantFrom(
  { what: 'a 1.5 MB string', make: () => 'x'.repeat(1_500_000) },
  { what: '100,000 numbers', make: () => Array.from({ length: 100_000 }, (_, i) => i / 3) },
  { what: '1,000 nested arrays', make: () => nest(1000, 'leaf', (v) => [v]) },
  { what: '999 nested arrays around a Date', make: () => nest(999, new Date(5), (v) => [v]) },
  { what: 'a 1 MB Buffer', make: () => Buffer.alloc(1_000_000, 7) },
)

/** Durations: valid ones, and negative, NaN, infinite, huge and malformed ones. */
export const hostileDuration: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom<unknown>(
    -1,
    -0,
    0,
    1,
    0.5,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2 ** 53,
    2 ** 53 + 2,
    Number.MAX_VALUE,
    Number.MIN_VALUE,
    'forever',
    '1h',
    '5m',
    '30s',
    '250ms',
    '1d',
    '1h30m',
    '1.5h',
    '',
    ' ',
    '1',
    '-1s',
    '1e3ms',
    '5 minutes',
    'NaN',
    'Infinity',
    '9007199254740993ms',
    '1H',
    '99999999999999999999999d',
    null,
    true,
    {},
    [],
    10n,
  ),
  fc.double(),
  fc.integer({ min: -5, max: 100_000_000 }),
  hostileText(6),
)

/** One tag: well-formed, empty, too long, ill-formed or not a string. */
const hostileTag: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: hostileText(10, 1) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      '',
      'x'.repeat(256),
      'x'.repeat(257),
      '\uD800',
      'a\u0000',
      42,
      null,
      undefined,
      {},
    ),
  },
)

/** Tag lists: arrays of hostile tags, too many, duplicates, non-arrays. */
export const hostileTags: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.array(hostileTag, { maxLength: 4 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      undefined,
      'tag',
      null,
      42,
      {},
      Array.from({ length: 65 }, (_, i) => `t${i}`),
      Array.from({ length: 64 }, () => 'dup'),
    ),
  },
)

/** Tags from a small pool, so that tagged writes and invalidations meet. */
export const poolTags: fc.Arbitrary<string[]> = fc.uniqueArray(
  fc.constantFrom('t1', 't-2', 't:3', 't*', '🌍', 'T1'),
  {
    maxLength: 3,
  },
)

const patternUnit: fc.Arbitrary<string> = fc.oneof(
  { weight: 4, arbitrary: hostileChar },
  { weight: 3, arbitrary: fc.constantFrom('*', '?', '\\*', '\\?', '\\\\', '\\-', '**', 'a', 'b', ':') },
)

/** Patterns: globs of hostile characters, plus empty, trailing `\`, ill-formed and non-strings. */
export const hostilePattern: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 8, arbitrary: fc.string({ unit: patternUnit, minLength: 0, maxLength: 8 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      '',
      '\\',
      'a\\',
      '*',
      '**',
      '?',
      '\uD800*',
      '\u0000*',
      '*-1',
      'user-?',
      42,
      null,
    ),
  },
)

/** Namespace names: valid segments and everything else. */
export const hostileNamespace: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: hostileText(10) },
  { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      'a'.repeat(64),
      'a'.repeat(65),
      'a:b',
      'a*',
      '',
      '..',
      '-',
      null,
      42,
      undefined,
      '__proto__',
    ),
  },
)
