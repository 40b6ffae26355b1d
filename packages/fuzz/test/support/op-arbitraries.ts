/** The operations the fuzzer runs, and their fast-check arbitraries (hostile arguments included). */
import fc from 'fast-check'
import {
  claimedValue,
  hostileDuration,
  hostileKey,
  hostileNamespace,
  hostilePattern,
  hostileTags,
  hugeValue,
  normalisedValue,
  poolTags,
  refusedValue,
  validKey,
} from './arbitraries.js'

/** A value to write, and what the cache must do with it. */
export type ValueGen =
  | { readonly kind: 'claimed'; readonly value: unknown }
  | { readonly kind: 'normalised' | 'refused' | 'huge'; readonly what: string; readonly make: () => unknown }

/** The third argument of `set`/`getOrSet`: nothing, a duration, an options object, or junk. */
export type OptionsGen =
  | { readonly form: 'none' }
  | { readonly form: 'duration'; readonly ttl: unknown }
  | { readonly form: 'object'; readonly ttl?: unknown; readonly grace?: unknown; readonly tags?: unknown }
  | { readonly form: 'junk'; readonly junk: unknown }

export type Op =
  | {
      readonly op: 'set' | 'getOrSet'
      readonly key: unknown
      readonly value: ValueGen
      readonly options: OptionsGen
    }
  | { readonly op: 'get' | 'peek' | 'has' | 'delete'; readonly key: unknown }
  | { readonly op: 'getMany' | 'deleteMany'; readonly keys: unknown }
  | {
      readonly op: 'setMany'
      readonly items: unknown
    }
  | { readonly op: 'deleteByPattern'; readonly pattern: unknown }
  | { readonly op: 'invalidateTags'; readonly tags: unknown }
  | { readonly op: 'clear' }
  | { readonly op: 'namespace'; readonly name: unknown; readonly inner: Op }
  | {
      readonly op: 'wrap'
      readonly name: unknown
      readonly args: readonly unknown[]
      readonly value: ValueGen
    }
  | { readonly op: 'warm'; readonly source: unknown; readonly value: ValueGen }

// ---------------------------------------------------------------------------------------------
// Arbitraries

const valueGen: fc.Arbitrary<ValueGen> = fc.oneof(
  { weight: 12, arbitrary: claimedValue.map((value) => ({ kind: 'claimed' as const, value })) },
  { weight: 2, arbitrary: refusedValue.map((v) => ({ kind: 'refused' as const, ...v })) },
  { weight: 1, arbitrary: normalisedValue.map((v) => ({ kind: 'normalised' as const, ...v })) },
)

/** Values including the big ones (for the value property, where runs are fewer). */
export const anyValueGen: fc.Arbitrary<ValueGen> = fc.oneof(
  { weight: 12, arbitrary: valueGen },
  { weight: 1, arbitrary: hugeValue.map((v) => ({ kind: 'huge' as const, ...v })) },
)

const tagsArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 2, arbitrary: poolTags },
  { weight: 1, arbitrary: hostileTags },
)

const optionsGen: fc.Arbitrary<OptionsGen> = fc.oneof(
  { weight: 4, arbitrary: fc.constant({ form: 'none' as const }) },
  { weight: 2, arbitrary: hostileDuration.map((ttl) => ({ form: 'duration' as const, ttl })) },
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          ttl: fc.oneof(
            { weight: 3, arbitrary: fc.constant('1h') },
            { weight: 2, arbitrary: hostileDuration },
          ),
          grace: hostileDuration,
          tags: tagsArb,
        },
        { requiredKeys: [] },
      )
      .map((o) => ({ form: 'object' as const, ...o })),
  },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom<unknown>(null, true, 10n, Symbol('o'))
      .map((junk) => ({ form: 'junk' as const, junk })),
  },
)

/** Keys: valid ones from a small pool (so operations meet), hostile ones, and non-strings. */
const keyArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('a', 'b', 'a-1', 'user:1', 'x*y', '🌍', 'A') },
  { weight: 3, arbitrary: validKey },
  { weight: 3, arbitrary: hostileKey },
)

const keysArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.array(keyArb, { maxLength: 4 }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('a', null, 42, {}, undefined) },
)

const itemArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc
      .record(
        { key: keyArb, value: valueGen, ttl: hostileDuration, tags: tagsArb },
        { requiredKeys: ['key', 'value'] },
      )
      .map((r) => ({ ...r, gen: r.value })),
  },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 42, 'item') },
)

const argArb: fc.Arbitrary<unknown> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.oneof(fc.string({ maxLength: 6 }), fc.integer(), fc.boolean(), fc.constant(null)),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom<unknown>(
      Symbol('a'),
      () => 1,
      { deep: [1, { x: 'y' }] },
      '\uD800',
      '\u0000',
      5n,
    ),
  },
)

const leafOp: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      key: keyArb,
      value: valueGen,
      options: optionsGen,
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('getOrSet' as const),
      key: keyArb,
      value: valueGen,
      options: optionsGen,
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom('get' as const, 'peek' as const, 'has' as const, 'delete' as const),
      key: keyArb,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constantFrom('getMany' as const, 'deleteMany' as const), keys: keysArb }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('setMany' as const),
      items: fc.oneof(
        { weight: 6, arbitrary: fc.array(itemArb, { maxLength: 4 }) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 'x', {}) },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constant('deleteByPattern' as const),
      // Patterns over the key pool meet stored keys; hostile ones test the refusals.
      pattern: fc.oneof(
        fc.constantFrom(
          '*',
          'a*',
          '*-1',
          'user:?',
          '?',
          'x\\*y',
          'x*y',
          '*1',
          'A',
          '🌍',
          '??',
          '*:*',
          'a-?',
          'ns*',
        ),
        hostilePattern,
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('invalidateTags' as const), tags: tagsArb }) },
  { weight: 1, arbitrary: fc.constant({ op: 'clear' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('wrap' as const),
      name: fc.oneof(
        fc.constantFrom('fn', 'user_profile'),
        fc.constantFrom<unknown>('', 42, '\uD800', 'a\u0000'),
      ),
      args: fc.array(argArb, { maxLength: 3 }),
      value: valueGen,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('warm' as const),
      source: fc.oneof(
        { weight: 5, arbitrary: fc.array(keyArb, { maxLength: 3 }) },
        { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 42, undefined, {}) },
      ),
      value: valueGen,
    }),
  },
)

/** One operation: on the fuzzed namespace, or inside a (hostile) child namespace of it. */
export const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: leafOp },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('namespace' as const), name: hostileNamespace, inner: leafOp }),
  },
)

// ---------------------------------------------------------------------------------------------
// Oracle
