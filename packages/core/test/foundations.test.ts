import { describe, expect, test } from 'vitest'
import {
  DEFAULT_MAX_KEY_BYTES,
  defaultSerializer,
  escapePattern,
  FOREVER,
  InvalidDurationError,
  InvalidKeyError,
  isTierCacheError,
  jsonSerializer,
  parseDuration,
  SerializationError,
  StoreError,
} from '../src/index.js'
import {
  addDuration,
  compilePattern,
  decodeEntry,
  encodeEntry,
  MAX_TIMER_DELAY,
  NEVER,
  parsePattern,
  patternPrefix,
  STORE_CAPABILITIES,
  timerDelay,
  validateKey,
  validateNamespace,
} from '../src/store-kit.js'
import { CAPABILITY_METHODS } from '../src/store-validation.js'

describe('errors', () => {
  test('carry a stable code, context and cause, and subclass the built-in types', () => {
    const cause = new Error('boom')
    const err = new StoreError('redis get failed', { store: 'redis', operation: 'get', key: 'k', cause })
    expect(err.code).toBe('E_STORE')
    expect(err.store).toBe('redis')
    expect(err.operation).toBe('get')
    expect(err.key).toBe('k')
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('StoreError')
    expect(isTierCacheError(err)).toBe(true)
    expect(isTierCacheError(err, 'E_STORE')).toBe(true)
    expect(isTierCacheError(err, 'E_INVALID_KEY')).toBe(false)
    const keyErr = new InvalidKeyError('bad')
    expect(keyErr).toBeInstanceOf(TypeError)
    expect(new InvalidDurationError('bad')).toBeInstanceOf(RangeError)
  })

  test('isTierCacheError works across copies (brand + code, not instanceof) and rejects look-alikes', () => {
    // What a second installed copy would throw: a different class, same global brand.
    const foreign = Object.assign(new Error('other copy'), { code: 'E_STORE' })
    Object.defineProperty(foreign, Symbol.for('tiercache.error'), { value: true })
    expect(isTierCacheError(foreign, 'E_STORE')).toBe(true)
    expect(isTierCacheError(Object.assign(new Error('x'), { code: 'E_STORE' }))).toBe(false)
    expect(isTierCacheError(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(false)
    expect(isTierCacheError(null)).toBe(false)
    expect(isTierCacheError('E_STORE')).toBe(false)
  })

  test('a StoreError is not refused unless its context says so; the marker leaves other errors as they were', () => {
    const plain = new StoreError('down', { store: 'redis', operation: 'get' })
    expect(plain.refused).toBe(false)
    expect(Object.keys(plain)).not.toContain('refused')
    const refused = new StoreError('full', { store: 'redis', operation: 'get', refused: true })
    expect(refused.refused).toBe(true)
    expect(refused.code).toBe('E_STORE')
    expect(Object.keys(refused)).toContain('refused')
  })

  test('long keys are truncated in error context', () => {
    const err = new StoreError('x', { key: 'k'.repeat(1000) })
    expect(err.key!.length).toBeLessThan(210)
  })
})

describe('durations', () => {
  test.each([
    [250, 250],
    [0, 0],
    ['250ms', 250],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    ['1h30m', 5_400_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['1.5s', 1500],
    ['forever', Number.POSITIVE_INFINITY],
    [Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY],
  ])('%s → %s ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  test.each([
    [-1],
    [Number.NaN],
    [Number.NEGATIVE_INFINITY],
    ['5 minutes'],
    ['1x'],
    [''],
    ['ms'],
    ['-5s'],
    ['1h '],
    [null],
    [{}],
    [true],
  ])('%s is refused with E_INVALID_DURATION', (input) => {
    let error: unknown
    try {
      parseDuration(input, 'ttl')
    } catch (e) {
      error = e
    }
    expect(isTierCacheError(error, 'E_INVALID_DURATION')).toBe(true)
    expect(error).toBeInstanceOf(RangeError)
    expect((error as Error).message).toContain('ttl')
  })

  test('FOREVER is Infinity and maps to the finite NEVER timestamp', () => {
    expect(FOREVER).toBe(Number.POSITIVE_INFINITY)
    expect(addDuration(1000, FOREVER)).toBe(NEVER)
    expect(addDuration(1000, 500)).toBe(1500)
    expect(Number.isSafeInteger(NEVER)).toBe(true)
  })

  test('timer delays never exceed 2^31-1 ms', () => {
    expect(timerDelay(FOREVER)).toBe(MAX_TIMER_DELAY)
    expect(timerDelay(2 ** 40)).toBe(2 ** 31 - 1)
    expect(timerDelay(-5)).toBe(0)
    expect(timerDelay(10.2)).toBe(11)
  })
})

describe('keys and namespaces', () => {
  test('keys must be non-empty strings within the byte limit', () => {
    expect(() => validateKey('ok')).not.toThrow()
    expect(() => validateKey('é'.repeat(512))).not.toThrow() // 1024 bytes exactly
    for (const bad of ['', 1, null, undefined, {}, Symbol('x')]) {
      expect(() => validateKey(bad), String(bad)).toThrow(InvalidKeyError)
    }
    expect(() => validateKey('é'.repeat(513))).toThrow(/longer than 1024 bytes/)
    expect(() => validateKey('x'.repeat(20), 10)).toThrow(InvalidKeyError)
    expect(DEFAULT_MAX_KEY_BYTES).toBe(1024)
  })

  test('namespace segments are restricted so prefixes match exactly', () => {
    expect(() => validateNamespace('users-v2.1_x')).not.toThrow()
    for (const bad of ['', 'a:b', 'a*', 'a b', 'x'.repeat(65), 'ü', 5]) {
      expect(() => validateNamespace(bad), String(bad)).toThrow(/namespace/)
    }
  })
})

describe('patterns', () => {
  test('escapePattern makes any text literal', () => {
    const text = 'a*b?c\\d[e]%_'
    expect(compilePattern(escapePattern(text))(text)).toBe(true)
    expect(compilePattern(escapePattern(text))('aXb?c\\d[e]%_')).toBe(false)
  })

  test('* crosses separators, ? is one code point, brackets and % are literal', () => {
    const m = compilePattern('user:*')
    expect(m('user:1')).toBe(true)
    expect(m('user:a:b')).toBe(true)
    expect(m('users:1')).toBe(false)
    expect(compilePattern('a?c')('a🌍c')).toBe(true)
    expect(compilePattern('a?c')('ac')).toBe(false)
    expect(compilePattern('[ab]')('a')).toBe(false)
    expect(compilePattern('[ab]')('[ab]')).toBe(true)
    expect(compilePattern('50%')('50%')).toBe(true)
    expect(compilePattern('50%')('500')).toBe(false)
    expect(compilePattern('a*b*c')('a--b--c')).toBe(true)
    expect(compilePattern('line*')('line1\nline2')).toBe(true)
  })

  test('bad patterns are refused with E_INVALID_PATTERN', () => {
    for (const bad of ['', 'abc\\', 42, null]) {
      let error: unknown
      try {
        parsePattern(bad)
      } catch (e) {
        error = e
      }
      expect(isTierCacheError(error, 'E_INVALID_PATTERN'), String(bad)).toBe(true)
    }
  })

  test('patternPrefix gives the literal head', () => {
    expect(patternPrefix(parsePattern('ns:user:*'))).toBe('ns:user:')
    expect(patternPrefix(parsePattern('*x'))).toBe('')
    expect(patternPrefix(parsePattern('a\\*b*'))).toBe('a*b')
  })
})

describe('default serializer', () => {
  const roundTrip = (v: unknown) => defaultSerializer.deserialize(defaultSerializer.serialize(v))

  test('round-trips special values with their types', () => {
    const date = new Date('2024-01-02T03:04:05.678Z')
    const value = {
      date,
      big: 2n ** 70n,
      map: new Map<unknown, unknown>([
        ['k', new Set([1, 2])],
        [1, date],
      ]),
      set: new Set(['a']),
      buf: Buffer.from([1, 2, 3]),
      u8: new Uint8Array([4, 5]),
      f64: new Float64Array([1.5, -2]),
      nan: Number.NaN,
      inf: Number.POSITIVE_INFINITY,
      ninf: Number.NEGATIVE_INFINITY,
      negZero: -0,
      nil: null,
      undef: undefined,
      arr: [undefined, 1],
      re: /a.b/gi,
      reserved: { '~t': 'not a tag' },
      nested: { deep: [{ deeper: [date] }] },
    }
    const out = roundTrip(value) as typeof value
    expect(out.date).toBeInstanceOf(Date)
    expect(out.date.getTime()).toBe(date.getTime())
    expect(out.big).toBe(2n ** 70n)
    expect(out.map).toBeInstanceOf(Map)
    expect(out.map.get('k')).toEqual(new Set([1, 2]))
    expect((out.map.get(1) as Date).getTime()).toBe(date.getTime())
    expect(out.set).toEqual(new Set(['a']))
    expect(Buffer.isBuffer(out.buf)).toBe(true)
    expect([...out.buf]).toEqual([1, 2, 3])
    expect(out.u8).toBeInstanceOf(Uint8Array)
    expect(Buffer.isBuffer(out.u8)).toBe(false)
    expect(out.f64).toBeInstanceOf(Float64Array)
    expect([...out.f64]).toEqual([1.5, -2])
    expect(out.nan).toBeNaN()
    expect(out.inf).toBe(Number.POSITIVE_INFINITY)
    expect(out.ninf).toBe(Number.NEGATIVE_INFINITY)
    expect(Object.is(out.negZero, -0)).toBe(true)
    expect(out.nil).toBeNull()
    expect('undef' in out).toBe(true)
    expect(out.arr).toEqual([undefined, 1])
    expect(out.re).toEqual(/a.b/gi)
    expect(out.reserved).toEqual({ '~t': 'not a tag' })
    expect((out.nested.deep[0]!.deeper[0] as Date).getTime()).toBe(date.getTime())
  })

  test('plain JSON data takes the plain path and decodes with JSON.parse alone', () => {
    const bytes = defaultSerializer.serialize({ a: [1, 'x', null, true], b: { c: 1.5 } })
    expect(bytes[0]).toBe(0x4a)
    expect(Buffer.from(bytes).subarray(1).toString()).toBe('{"a":[1,"x",null,true],"b":{"c":1.5}}')
    for (const v of [0, 'str', null, true, [], {}]) expect(roundTrip(v)).toEqual(v)
  })

  test('refuses functions, symbols and circular structures with E_SERIALIZE', () => {
    const circular: Record<string, unknown> = { a: 1 }
    circular.self = circular
    const deepCircular: Record<string, unknown> = {}
    let node = deepCircular
    for (let i = 0; i < 100; i++) node = node.next = {} as Record<string, unknown>
    node.back = deepCircular
    const cases: [unknown, RegExp][] = [
      [() => 1, /function/],
      [{ f() {} }, /function at \.f/],
      [Symbol('s'), /symbol/],
      [{ list: [1, Symbol('x')] }, /symbol at \.list\[1\]/],
      [circular, /circular/],
      [deepCircular, /circular/],
      [[circular], /circular/],
      [undefined, /undefined/],
    ]
    for (const [value, message] of cases) {
      let error: unknown
      try {
        defaultSerializer.serialize(value)
      } catch (e) {
        error = e
      }
      expect(error, String(message)).toBeInstanceOf(SerializationError)
      expect(isTierCacheError(error, 'E_SERIALIZE')).toBe(true)
      expect((error as Error).message).toMatch(message)
    }
  })

  test('shared (non-circular) references are fine', () => {
    const shared = { x: 1 }
    expect(roundTrip({ a: shared, b: shared, c: [shared, shared] })).toEqual({
      a: { x: 1 },
      b: { x: 1 },
      c: [{ x: 1 }, { x: 1 }],
    })
  })

  test('garbage bytes give E_DESERIALIZE', () => {
    for (const bad of [Buffer.from('Jnot json'), Buffer.from('Z{}'), Buffer.from('T{"~t":"??"}')]) {
      let error: unknown
      try {
        defaultSerializer.deserialize(bad)
      } catch (e) {
        error = e
      }
      expect(isTierCacheError(error, 'E_DESERIALIZE')).toBe(true)
    }
  })

  test('jsonSerializer is plain JSON', () => {
    expect(jsonSerializer.deserialize(jsonSerializer.serialize({ a: 1 }))).toEqual({ a: 1 })
    expect(() => jsonSerializer.serialize(1n)).toThrow(SerializationError)
    expect(() => jsonSerializer.serialize(() => 1)).toThrow(SerializationError)
  })
})

describe('store capabilities', () => {
  test('STORE_CAPABILITIES lists every capability createCache checks, then conditionalSet', () => {
    expect(STORE_CAPABILITIES).toEqual([...CAPABILITY_METHODS, 'conditionalSet'])
    expect(Object.isFrozen(STORE_CAPABILITIES)).toBe(true)
  })
})

describe('entry codec', () => {
  test('packs and unpacks value bytes and metadata', () => {
    const entry = {
      value: Buffer.from('hello'),
      createdAt: 1.5e12,
      freshUntil: 1.6e12,
      staleUntil: NEVER,
      tags: ['a', 'ü:🌍'],
    }
    const out = decodeEntry(encodeEntry(entry))
    expect(Buffer.from(out.value).toString()).toBe('hello')
    expect(out.createdAt).toBe(entry.createdAt)
    expect(out.freshUntil).toBe(entry.freshUntil)
    expect(out.staleUntil).toBe(NEVER)
    expect(out.tags).toEqual(entry.tags)
    const empty = decodeEntry(encodeEntry({ ...entry, tags: [], value: new Uint8Array() }))
    expect(empty.tags).toEqual([])
    expect(empty.value.byteLength).toBe(0)
    expect(() => decodeEntry(Buffer.from('xx'))).toThrow(/layout/)
  })
})
