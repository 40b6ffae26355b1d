/**
 * The coherence model's inputs: its keys (with pattern groups and tags), the steps a run takes
 * (mutations, reads racing them, faults) and their fast-check arbitrary.
 */
import fc from 'fast-check'

/** The keys of the model, their pattern groups and tags. */
export const KEYS = ['a:1', 'a:2', 'b:1', 'b:2'] as const
export type Key = (typeof KEYS)[number]
export const tagOf = (k: string): string => `t${k[0]}`

/** One step of a run. */
export type Step =
  | {
      readonly kind: 'set' | 'invalidate'
      readonly by: number
      readonly key: Key
      readonly lead: number
      readonly reads: readonly Read[]
    }
  | {
      readonly kind: 'pattern' | 'tags'
      readonly by: number
      readonly group: 'a' | 'b'
      readonly lead: number
      readonly reads: readonly Read[]
    }
  | { readonly kind: 'clear'; readonly by: number; readonly lead: number; readonly reads: readonly Read[] }
  | { readonly kind: 'warm'; readonly reads: readonly Read[] }
  | { readonly kind: 'racedLoad'; readonly by: number; readonly on: number; readonly key: Key }
  | {
      readonly kind: 'busGap' | 'redisLoss' | 'redisRestart' | 'lostMessage'
      readonly by: number
      readonly key: Key
    }

/** A read racing a mutation: on which instance, of which key, how, and when it starts. */
export interface Read {
  readonly on: number
  readonly key: Key
  readonly op: 'get' | 'getOrSet' | 'getMany' | 'peek' | 'has'
  /** 0: before the mutation starts; 1: right after it starts; 2: a little later. */
  readonly at: 0 | 1 | 2
  /** For `getOrSet`: ms the loader takes after reading the source (a slow loader returns an older value). */
  readonly delay: number
}

/** Arbitrary runs of `length` steps for `instances` instances. */
export function steps(instances: number, length: number, faults = true): fc.Arbitrary<Step[]> {
  const by = fc.integer({ min: 0, max: instances - 1 })
  const key = fc.constantFrom(...KEYS)
  /** A read, of `near` (the key being mutated) two times in three. */
  const read = (near?: Key): fc.Arbitrary<Read> =>
    fc.record({
      on: by,
      key: near === undefined ? key : fc.oneof(fc.constant(near), fc.constant(near), key),
      op: fc.constantFrom('get', 'getOrSet', 'getOrSet', 'getMany', 'peek', 'has'),
      at: fc.constantFrom(0, 1, 1, 2),
      delay: fc.constantFrom(0, 0, 1, 3, 6),
    }) as fc.Arbitrary<Read>
  const reads = (near?: Key) => fc.array(read(near), { minLength: 2, maxLength: 6 })
  const group = fc.constantFrom('a', 'b') as fc.Arbitrary<'a' | 'b'>
  // How long the early reads run before the source changes and the mutation starts, in ms.
  const lead = fc.constantFrom(0, 1, 2, 4)
  const mutations: fc.Arbitrary<Step>[] = [
    fc
      .record({ kind: fc.constantFrom('set', 'invalidate', 'invalidate'), by, key, lead })
      .chain((m) => reads(m.key).map((r) => ({ ...m, reads: r }) as Step)),
    fc.record({
      kind: fc.constantFrom('pattern', 'tags'),
      by,
      group,
      lead,
      reads: reads(),
    }) as fc.Arbitrary<Step>,
    fc.record({ kind: fc.constant('clear'), by, lead, reads: reads() }) as fc.Arbitrary<Step>,
    fc.record({
      kind: fc.constant('warm'),
      reads: fc.array(read(), { minLength: 4, maxLength: 10 }),
    }) as fc.Arbitrary<Step>,
  ]
  const raced = fc
    .record({ kind: fc.constant('racedLoad'), by, on: by, key })
    .filter((r) => r.by !== r.on) as fc.Arbitrary<Step>
  const weighted: fc.WeightedArbitrary<Step>[] = [
    // A load racing another instance's delete needs two instances.
    { weight: instances > 1 ? 1 : 0, arbitrary: raced },
    { weight: 6, arbitrary: mutations[0] as fc.Arbitrary<Step> },
    { weight: 2, arbitrary: mutations[1] as fc.Arbitrary<Step> },
    { weight: 1, arbitrary: mutations[2] as fc.Arbitrary<Step> },
    { weight: 4, arbitrary: mutations[3] as fc.Arbitrary<Step> },
  ]
  if (faults) {
    const fault = fc.record({
      kind: fc.constantFrom('busGap', 'redisLoss', 'redisLoss', 'redisRestart', 'lostMessage', 'lostMessage'),
      by,
      key,
    }) as fc.Arbitrary<Step>
    weighted.push({ weight: 2, arbitrary: fault })
  }
  return fc.array(fc.oneof(...weighted), { minLength: length, maxLength: length })
}
