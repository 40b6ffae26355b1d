/** Every value shape a store must round-trip, by name. */
export function valueSamples(): Record<string, unknown> {
  const big: Record<string, unknown> = {}
  for (let i = 0; i < 20; i++) {
    big[`field_${i}`] = {
      id: i,
      name: `item ${i} ✓`,
      tags: ['a', 'b'],
      score: i / 7,
      when: new Date(1_700_000_000_000 + i),
    }
  }
  return {
    string: 'hello',
    'empty string': '',
    unicode: 'héllo wörld 🌍 日本語 \u0000 \u2028',
    integer: 42,
    float: -12.5,
    zero: 0,
    'negative zero': -0,
    NaN: Number.NaN,
    Infinity: Number.POSITIVE_INFINITY,
    '-Infinity': Number.NEGATIVE_INFINITY,
    true: true,
    false: false,
    null: null,
    Date: new Date('2024-02-29T12:34:56.789Z'),
    'invalid Date': new Date(Number.NaN),
    BigInt: 123456789012345678901234567890n,
    Map: new Map<unknown, unknown>([
      ['a', 1],
      [2, { b: new Date(0) }],
    ]),
    Set: new Set<unknown>([1, 'two', 3n]),
    Buffer: Buffer.from([0, 1, 2, 127, 128, 255]),
    Uint8Array: new Uint8Array([9, 8, 7, 0]),
    'nested object': { a: [1, { b: [new Date(1), null, -0] }], c: { d: 'e', '~t': 'reserved key' } },
    array: [1, 'a', null, [2, [3, [4]]], { x: undefined }],
    'object of ~1 KB': big,
  }
}

/**
 * Key fragments that trip pattern translations and key normalisation: glob, LIKE and RegExp
 * characters, `:`, `\`, non-ASCII, upper case and a trailing space.
 */
export const TRICKY_KEY_PARTS: readonly string[] = [
  'star*key',
  'question?key',
  'bracket[a]key',
  'percent%key',
  'under_score',
  'with space',
  'colon:inside',
  'back\\slash',
  'ünïcödé-日本-🌍',
  'caret^dollar$',
  'quote\'double"',
  'MixedCase',
  'trailing ',
]

/** Checks two values are the same shape and content, stricter than deep equality. */
export function sameValue(actual: unknown, expected: unknown, path = 'value'): string | undefined {
  if (typeof expected === 'number') {
    return Object.is(actual, expected)
      ? undefined
      : `${path}: expected ${String(expected)}, got ${String(actual)}`
  }
  if (typeof expected !== 'object' || expected === null) {
    return actual === expected ? undefined : `${path}: expected ${String(expected)}, got ${String(actual)}`
  }
  if (typeof actual !== 'object' || actual === null)
    return `${path}: expected an object, got ${String(actual)}`
  if (expected instanceof Date) {
    if (!(actual instanceof Date)) return `${path}: expected a Date`
    return Object.is(actual.getTime(), expected.getTime()) ? undefined : `${path}: different time`
  }
  if (Buffer.isBuffer(expected)) {
    if (!Buffer.isBuffer(actual)) return `${path}: expected a Buffer`
    return actual.equals(expected) ? undefined : `${path}: different bytes`
  }
  if (expected instanceof Uint8Array) {
    if (!(actual instanceof Uint8Array) || Buffer.isBuffer(actual)) return `${path}: expected a Uint8Array`
    return Buffer.from(actual).equals(Buffer.from(expected)) ? undefined : `${path}: different bytes`
  }
  if (expected instanceof Map) {
    if (!(actual instanceof Map)) return `${path}: expected a Map`
    if (actual.size !== expected.size) return `${path}: different Map size`
    const a = [...actual]
    const e = [...expected]
    for (let i = 0; i < e.length; i++) {
      const problem = sameValue(a[i], e[i], `${path}<entry ${i}>`)
      if (problem) return problem
    }
    return undefined
  }
  if (expected instanceof Set) {
    if (!(actual instanceof Set)) return `${path}: expected a Set`
    return sameValue([...actual], [...expected], `${path}<set>`)
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${path}: expected an array`
    if (actual.length !== expected.length) return `${path}: different length`
    for (let i = 0; i < expected.length; i++) {
      const problem = sameValue(actual[i], expected[i], `${path}[${i}]`)
      if (problem) return problem
    }
    return undefined
  }
  const ek = Object.keys(expected)
  const ak = Object.keys(actual)
  if (ek.length !== ak.length) return `${path}: different keys (${ak.join(',')} vs ${ek.join(',')})`
  for (const k of ek) {
    if (!Object.hasOwn(actual, k)) return `${path}: missing key ${k}`
    const problem = sameValue(
      (actual as Record<string, unknown>)[k],
      (expected as Record<string, unknown>)[k],
      `${path}.${k}`,
    )
    if (problem) return problem
  }
  return undefined
}
