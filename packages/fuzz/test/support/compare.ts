/**
 * Strict structural equality for every value type the default serializer claims to round-trip:
 * numbers by `Object.is` (NaN, -0), Date by time, BigInt, Map and Set in order, Buffer vs
 * Uint8Array vs other typed arrays by class and bytes, ArrayBuffer, RegExp by source and flags,
 * `undefined` members, and own `__proto__` keys. Plain objects compare by own enumerable keys
 * (order included) whatever their prototype (`null` or `Object.prototype`).
 *
 * @returns undefined when equal, else where and how they differ
 */
export function deepSame(actual: unknown, expected: unknown, path = '$'): string | undefined {
  if (typeof expected !== 'object' || expected === null) {
    if (typeof expected === 'number' || typeof actual === 'number') {
      return Object.is(actual, expected) ? undefined : `${path}: ${show(actual)} ≠ ${show(expected)}`
    }
    return actual === expected ? undefined : `${path}: ${show(actual)} ≠ ${show(expected)}`
  }
  if (typeof actual !== 'object' || actual === null) return `${path}: ${show(actual)} ≠ an object`
  const kind = (v: object): string => {
    if (Buffer.isBuffer(v)) return 'Buffer'
    if (ArrayBuffer.isView(v)) return v.constructor.name
    if (v instanceof ArrayBuffer) return 'ArrayBuffer'
    if (v instanceof Date) return 'Date'
    if (v instanceof Map) return 'Map'
    if (v instanceof Set) return 'Set'
    if (v instanceof RegExp) return 'RegExp'
    if (Array.isArray(v)) return 'Array'
    return 'Object'
  }
  const ka = kind(actual)
  const ke = kind(expected)
  if (ka !== ke) return `${path}: a ${ka} ≠ a ${ke}`
  switch (ke) {
    case 'Date':
      return Object.is((actual as Date).getTime(), (expected as Date).getTime())
        ? undefined
        : `${path}: other time`
    case 'RegExp': {
      const a = actual as RegExp
      const e = expected as RegExp
      return a.source === e.source && a.flags === e.flags ? undefined : `${path}: ${a} ≠ ${e}`
    }
    case 'ArrayBuffer':
      return Buffer.from(actual as ArrayBuffer).equals(Buffer.from(expected as ArrayBuffer))
        ? undefined
        : `${path}: other bytes`
    case 'Map':
      return deepSame(
        [...(actual as Map<unknown, unknown>)],
        [...(expected as Map<unknown, unknown>)],
        `${path}<map>`,
      )
    case 'Set':
      return deepSame([...(actual as Set<unknown>)], [...(expected as Set<unknown>)], `${path}<set>`)
    case 'Array': {
      const a = actual as unknown[]
      const e = expected as unknown[]
      if (a.length !== e.length) return `${path}: length ${a.length} ≠ ${e.length}`
      for (let i = 0; i < e.length; i++) {
        if (Object.hasOwn(a, i) !== Object.hasOwn(e, i)) return `${path}[${i}]: a hole on one side`
        const problem = deepSame(a[i], e[i], `${path}[${i}]`)
        if (problem) return problem
      }
      return undefined
    }
    case 'Object': {
      const ak = Object.keys(actual)
      const ek = Object.keys(expected)
      if (ak.join('\u0000') !== ek.join('\u0000')) {
        return `${path}: keys [${ak.map(show).join(', ')}] ≠ [${ek.map(show).join(', ')}]`
      }
      for (const k of ek) {
        const a = Object.getOwnPropertyDescriptor(actual, k)?.value
        const e = Object.getOwnPropertyDescriptor(expected, k)?.value
        const problem = deepSame(a, e, `${path}.${show(k)}`)
        if (problem) return problem
      }
      return undefined
    }
    default: {
      const a = actual as ArrayBufferView
      const e = expected as ArrayBufferView
      const ab = Buffer.from(a.buffer, a.byteOffset, a.byteLength)
      const eb = Buffer.from(e.buffer, e.byteOffset, e.byteLength)
      return ab.equals(eb) ? undefined : `${path}: other ${ke} bytes`
    }
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (typeof v === 'bigint') return `${v}n`
  if (typeof v === 'number') return Object.is(v, -0) ? '-0' : String(v)
  if (typeof v === 'object' && v !== null) return Array.isArray(v) ? 'an array' : 'an object'
  return String(v)
}
