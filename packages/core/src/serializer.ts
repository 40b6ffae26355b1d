import { DeserializationError, isTierCacheError, SerializationError } from './errors.js'
import { HEAP_PER_ARRAY, HEAP_PER_OBJECT, HEAP_PER_QUOTE, HEAP_PER_SLOT } from './heap-costs.js'

/**
 * Turns values into bytes for remote tiers and back. The engine calls `serialize` once per write
 * however many tiers there are; the memory tier keeps live values and only records the size.
 */
export interface Serializer {
  /** A short name, recorded in diagnostics. */
  readonly name: string
  /**
   * Encodes a value.
   * @throws SerializationError (`E_SERIALIZE`) for values it cannot encode
   */
  serialize(value: unknown): Uint8Array
  /**
   * Decodes bytes produced by {@link Serializer.serialize}.
   * @throws DeserializationError (`E_DESERIALIZE`) for bytes it cannot decode
   */
  deserialize(bytes: Uint8Array): unknown
}

const TAG = '~t'
const PLAIN = 0x4a // 'J': the payload is plain JSON
const TAGGED = 0x54 // 'T': the payload is JSON with tagged special values
const MAX_DEPTH_UNCHECKED = 48
/**
 * Deepest nesting of arrays, objects, maps and sets the default serializer encodes: 1,000
 * levels. A deeper value is refused with `SerializationError` (`E_SERIALIZE`) instead of
 * overflowing the call stack.
 */
export const MAX_SERIALIZE_DEPTH = 1000

type Path = (string | number)[]

// The heap estimate the plain path counts while it scans (see heap-size.ts): -1 when the last
// serialize() did not count it (the tagged path).
let walkEstimate = -1

/**
 * The structural heap estimate counted by the default serializer's last `serialize()` call,
 * or -1 when it did not count one. Reading it resets it. Internal to the engine.
 */
export function takeWalkEstimate(): number {
  const n = walkEstimate
  walkEstimate = -1
  return n
}

function fail(what: string, path: Path): never {
  const at = path.length
    ? ` at ${path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('')}`
    : ''
  throw new SerializationError(`cannot serialize ${what}${at}`)
}

function tooDeep(path: Path): never {
  throw new SerializationError(
    `cannot serialize a value nested more than ${MAX_SERIALIZE_DEPTH} levels deep${path.length ? ` (at ${path.slice(0, 8).join('.')}…)` : ''}`,
  )
}

/** Defines `out[k]`, so an own `__proto__` key stays an own property instead of a prototype. */
function put(out: Record<string, unknown>, k: string, value: unknown): void {
  if (k === '__proto__') {
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true })
  } else {
    out[k] = value
  }
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

/**
 * Scans a value. Returns true when it holds something plain JSON would not round-trip (so the
 * tagged encoding is needed); throws for functions, symbols and cycles.
 */
function needsTags(v: unknown, depth: number, stack: object[]): boolean {
  switch (typeof v) {
    case 'string':
      walkEstimate += 2 * HEAP_PER_QUOTE
      return false
    case 'boolean':
      return false
    case 'number':
      return !Number.isFinite(v) || (v === 0 && 1 / v < 0)
    case 'object': {
      if (v === null) return false
      if (depth > MAX_DEPTH_UNCHECKED) {
        if (stack.includes(v)) fail('a circular structure', [])
        if (depth >= MAX_SERIALIZE_DEPTH) tooDeep([])
      }
      if (Array.isArray(v)) {
        // The array's header, and a slot per element after the first (one per comma).
        walkEstimate += HEAP_PER_ARRAY + (v.length > 1 ? (v.length - 1) * HEAP_PER_SLOT : 0)
        stack.push(v)
        for (let i = 0; i < v.length; i++) {
          if (needsTags(v[i], depth + 1, stack)) return true
        }
        stack.pop()
        return false
      }
      if (!isPlainObject(v) || typeof (v as { toJSON?: unknown }).toJSON === 'function') return true
      stack.push(v)
      // The object's header; per property a slot (one per comma: the first is free) and a key (two quotes).
      walkEstimate += HEAP_PER_OBJECT
      let slot = 0
      for (const k in v) {
        walkEstimate += 2 * HEAP_PER_QUOTE + slot
        slot = HEAP_PER_SLOT
        if (k === TAG) return true
        if (needsTags((v as Record<string, unknown>)[k], depth + 1, stack)) return true
      }
      stack.pop()
      return false
    }
    default:
      // bigint, undefined (inside containers), function, symbol: the tagged encoder handles or rejects them
      return true
  }
}

const TYPED_ARRAYS: Record<string, new (buf: ArrayBuffer, off: number, len: number) => ArrayBufferView> = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
}

function toBase64(view: ArrayBufferView): string {
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString('base64')
}

function encodeTagged(v: unknown, path: Path, stack: object[]): unknown {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      if (Number.isFinite(v) && !(v === 0 && 1 / v < 0)) return v
      return { [TAG]: 'N', v: Object.is(v, -0) ? '-0' : String(v) }
    case 'bigint':
      return { [TAG]: 'B', v: v.toString() }
    case 'undefined':
      return { [TAG]: 'U' }
    case 'function':
      return fail('a function', path)
    case 'symbol':
      return fail('a symbol', path)
  }
  if (v === null) return null
  const obj = v as object
  if (stack.includes(obj)) fail('a circular structure', path)
  if (stack.length >= MAX_SERIALIZE_DEPTH) tooDeep(path)
  stack.push(obj)
  try {
    if (Array.isArray(obj)) {
      const out = new Array(obj.length)
      for (let i = 0; i < obj.length; i++) {
        path.push(i)
        out[i] = encodeTagged(obj[i], path, stack)
        path.pop()
      }
      return out
    }
    if (obj instanceof Date) return { [TAG]: 'D', v: Number.isNaN(obj.getTime()) ? null : obj.getTime() }
    if (obj instanceof Map) {
      const entries: unknown[] = []
      let i = 0
      for (const [k, val] of obj) {
        path.push(`<map entry ${i++}>`)
        entries.push([encodeTagged(k, path, stack), encodeTagged(val, path, stack)])
        path.pop()
      }
      return { [TAG]: 'M', v: entries }
    }
    if (obj instanceof Set) {
      const items: unknown[] = []
      let i = 0
      for (const item of obj) {
        path.push(`<set item ${i++}>`)
        items.push(encodeTagged(item, path, stack))
        path.pop()
      }
      return { [TAG]: 'S', v: items }
    }
    if (Buffer.isBuffer(obj)) return { [TAG]: 'F', v: obj.toString('base64') }
    if (ArrayBuffer.isView(obj)) {
      const name = obj.constructor.name
      if (!(name in TYPED_ARRAYS)) fail(`a ${name}`, path)
      return { [TAG]: 'A', c: name, v: toBase64(obj) }
    }
    if (obj instanceof ArrayBuffer) return { [TAG]: 'AB', v: Buffer.from(obj).toString('base64') }
    if (obj instanceof RegExp) return { [TAG]: 'R', v: [obj.source, obj.flags] }
    if (typeof (obj as { toJSON?: unknown }).toJSON === 'function') {
      return encodeTagged((obj as { toJSON: () => unknown }).toJSON(), path, stack)
    }
    const out: Record<string, unknown> = {}
    for (const k in obj) {
      if (!Object.hasOwn(obj, k)) continue
      path.push(k)
      put(out, k, encodeTagged((obj as Record<string, unknown>)[k], path, stack))
      path.pop()
    }
    return Object.hasOwn(out, TAG) ? { [TAG]: 'O', v: out } : out
  } finally {
    stack.pop()
  }
}

function decodeTagged(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = decodeTagged(v[i])
    return v
  }
  const o = v as Record<string, unknown>
  const tag = o[TAG]
  if (tag === undefined) {
    for (const k in o) o[k] = decodeTagged(o[k])
    return o
  }
  const data = o.v
  switch (tag) {
    case 'N':
      return data === '-0' ? -0 : Number(data)
    case 'B':
      return BigInt(data as string)
    case 'U':
      return undefined
    case 'D':
      return new Date(data === null ? Number.NaN : (data as number))
    case 'M':
      return new Map((data as [unknown, unknown][]).map(([k, val]) => [decodeTagged(k), decodeTagged(val)]))
    case 'S':
      return new Set((data as unknown[]).map(decodeTagged))
    case 'F':
      return Buffer.from(data as string, 'base64')
    case 'A': {
      const bytes = Buffer.from(data as string, 'base64')
      const Ctor = TYPED_ARRAYS[o.c as string]
      if (!Ctor) throw new DeserializationError(`unknown typed array ${String(o.c)}`)
      const copy = new ArrayBuffer(bytes.length)
      new Uint8Array(copy).set(bytes)
      const per = (Ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT
      return new Ctor(copy, 0, bytes.length / per)
    }
    case 'AB': {
      const bytes = Buffer.from(data as string, 'base64')
      const copy = new ArrayBuffer(bytes.length)
      new Uint8Array(copy).set(bytes)
      return copy
    }
    case 'R': {
      const [source, flags] = data as [string, string]
      return new RegExp(source, flags)
    }
    case 'O': {
      const inner = data as Record<string, unknown>
      for (const k in inner) inner[k] = decodeTagged(inner[k])
      return inner
    }
    default:
      throw new DeserializationError(`unknown value tag ${JSON.stringify(tag)}`)
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function encodeText(marker: number, text: string): Buffer {
  const len = Buffer.byteLength(text, 'utf8')
  const out = Buffer.allocUnsafe(len + 1)
  out[0] = marker
  out.write(text, 1, len, 'utf8')
  return out
}

const isStackOverflow = (error: unknown): boolean =>
  error instanceof RangeError && /call stack/i.test(error.message)

/** What the value's own code threw (a getter, `toJSON`, a Proxy trap), as an `E_SERIALIZE`. */
function serializeFailure(cause: unknown): Error {
  if (isTierCacheError(cause)) return cause
  if (isStackOverflow(cause)) {
    return new SerializationError('cannot serialize a value nested this deeply (the call stack overflowed)', {
      cause,
    })
  }
  const reason = cause instanceof Error ? cause.message : String(cause)
  return new SerializationError(`cannot serialize the value: ${reason}`, { cause })
}

function isUndefinedTag(encoded: unknown): boolean {
  return (
    typeof encoded === 'object' &&
    encoded !== null &&
    (encoded as Record<string, unknown>)[TAG] === 'U' &&
    Object.keys(encoded).length === 1
  )
}

/**
 * The default serializer. Round-trips JSON data plus `Date`, `BigInt`, `Map`, `Set`,
 * `Buffer`, `Uint8Array` and other typed arrays, `ArrayBuffer`, `RegExp`, `NaN`, `±Infinity`,
 * `-0`, `undefined` inside arrays and objects, own `__proto__` keys, and objects that use the
 * reserved key `~t`. Class instances come back as plain objects (own enumerable properties, or
 * their `toJSON()`). Functions, symbols, circular structures, values nested more than
 * {@link MAX_SERIALIZE_DEPTH} (1,000) levels deep, and values whose getters, `toJSON` or Proxy
 * traps throw are refused with a `SerializationError` (`E_SERIALIZE`, the thrown error as `cause`).
 *
 * Plain JSON data costs one scan plus `JSON.stringify` to encode and only `JSON.parse` to
 * decode; values with special types take a tagged path.
 */
export const defaultSerializer: Serializer = {
  name: 'tiercache-json',
  serialize(value: unknown): Uint8Array {
    if (value === undefined) fail('undefined', [])
    try {
      walkEstimate = 0
      if (!needsTags(value, 0, [])) return encodeText(PLAIN, JSON.stringify(value))
      walkEstimate = -1
      const encoded = encodeTagged(value, [], [])
      // A top-level toJSON() that answers undefined would be cached as a miss.
      if (isUndefinedTag(encoded)) fail('a value whose toJSON() returns undefined', [])
      return encodeText(TAGGED, JSON.stringify(encoded))
    } catch (error) {
      throw serializeFailure(error)
    }
  },
  deserialize(bytes: Uint8Array): unknown {
    let parsed: unknown
    let marker: number | undefined
    try {
      const buf = asBuffer(bytes)
      marker = buf[0]
      parsed = JSON.parse(buf.toString('utf8', 1))
    } catch (cause) {
      throw new DeserializationError('stored bytes are not valid JSON', { cause })
    }
    if (marker === PLAIN) return parsed
    if (marker === TAGGED) {
      try {
        return decodeTagged(parsed)
      } catch (cause) {
        if (isTierCacheError(cause)) throw cause
        throw new DeserializationError('stored bytes hold a malformed tagged value', { cause })
      }
    }
    throw new DeserializationError(`unknown serializer marker ${String(marker)}`)
  },
}

/**
 * A plain JSON serializer: the fastest choice when values are JSON data only. It does not
 * round-trip `Date`, `Map`, `BigInt` and the like (a `BigInt` throws).
 */
export const jsonSerializer: Serializer = {
  name: 'json',
  serialize(value: unknown): Uint8Array {
    let text: string | undefined
    try {
      text = JSON.stringify(value)
    } catch (cause) {
      throw new SerializationError('value cannot be encoded as JSON', { cause })
    }
    if (text === undefined) fail(`a ${typeof value}`, [])
    return Buffer.from(text, 'utf8')
  },
  deserialize(bytes: Uint8Array): unknown {
    try {
      return JSON.parse(asBuffer(bytes).toString('utf8'))
    } catch (cause) {
      throw new DeserializationError('stored bytes are not valid JSON', { cause })
    }
  },
}
