/**
 * Operations on a cache with hostile arguments, an oracle of which arguments are valid, and an
 * interpreter that runs them against a {@link Harness} while keeping a model of what the fuzzed
 * namespace must hold. After each operation it checks:
 *
 * - a refused call rejected (or threw) a tiercache error whose stable code is one the invalid
 *   arguments explain, and a call with only valid arguments was not refused;
 * - a refused call stored nothing and lost nothing: every key it names keeps its previous state in
 *   every tier, no tier holds a key that no accepted call wrote, and L1 did not grow;
 * - an accepted write reads back equal from every tier read alone (claimed types exactly; other
 *   accepted values as the serializer normalises them), and from the cache;
 * - deletes, pattern deletes (against a reference glob matcher), clears and tag invalidations
 *   removed exactly what they should, in every tier.
 */
import {
  type Cache,
  defaultSerializer,
  ERROR_CODES,
  escapePattern,
  isPortableText,
  isTierCacheError,
  parseDuration,
} from '@tiercache/core'
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
import { deepSame } from './compare.js'
import type { Harness } from './harness.js'
import { referenceMatch } from './reference-glob.js'

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

/** Codes a refused call may carry: input errors only (the backends are healthy). */
const INPUT_CODES = new Set([
  'E_INVALID_KEY',
  'E_INVALID_VALUE',
  'E_INVALID_DURATION',
  'E_INVALID_OPTION',
  'E_INVALID_PATTERN',
  'E_SERIALIZE',
])

const keyOk = (k: unknown): k is string =>
  typeof k === 'string' && k.length > 0 && Buffer.byteLength(k) <= 1024 && isPortableText(k)

const isTagList = (tags: unknown): boolean => {
  if (tags === undefined) return true
  if (!Array.isArray(tags) || tags.length > 64) return false
  return tags.every((t) => typeof t === 'string' && t.length > 0 && t.length <= 256 && isPortableText(t))
}

/** Whether a duration must be accepted (true), must be refused (false), or may go either way (undefined). */
function durationVerdict(d: unknown): boolean | undefined {
  if (d === undefined) return true
  if (typeof d === 'number') return d >= 0
  if (typeof d === 'string') {
    if (/^(\d+(ms|s|m|h|d))+$/.test(d) || d === 'forever') return true
    if (d === '' || /^\s|\s$/.test(d) || d.startsWith('-')) return false
    return undefined
  }
  return false
}

/** Milliseconds a duration means, when valid; undefined otherwise. */
function durationMs(d: unknown, fallback: number): number | undefined {
  if (d === undefined) return fallback
  try {
    return parseDuration(d)
  } catch {
    return undefined
  }
}

interface Verdict {
  /** Codes that explain a refusal; empty when every argument is valid. */
  readonly codes: Set<string>
  /** Arguments whose validity the oracle leaves open (a refusal with these codes is fine too). */
  readonly maybe: Set<string>
}

const verdict = (): Verdict => ({ codes: new Set(), maybe: new Set() })

function judgeValue(v: Verdict, gen: ValueGen): void {
  if (gen.kind === 'refused') v.codes.add(gen.what === 'undefined' ? 'E_INVALID_VALUE' : 'E_SERIALIZE')
}

function judgeDuration(v: Verdict, d: unknown): void {
  const ok = durationVerdict(d)
  if (ok === false)
    v.codes.add(typeof d === 'number' || typeof d === 'string' ? 'E_INVALID_DURATION' : 'E_INVALID_DURATION')
  if (ok === undefined) v.maybe.add('E_INVALID_DURATION')
}

function judgeOptions(v: Verdict, o: OptionsGen): void {
  if (o.form === 'duration') {
    // A number or a string is a ttl; an object (even `{}` or `[]`) is an options object.
    if (typeof o.ttl === 'number' || typeof o.ttl === 'string') judgeDuration(v, o.ttl)
    else if (o.ttl !== undefined && (typeof o.ttl !== 'object' || o.ttl === null))
      v.codes.add('E_INVALID_OPTION')
  } else if (o.form === 'object') {
    judgeDuration(v, o.ttl)
    judgeDuration(v, o.grace)
    if (!isTagList(o.tags)) v.codes.add('E_INVALID_OPTION')
  } else if (o.form === 'junk') {
    v.codes.add('E_INVALID_OPTION')
  }
}

function optionsArgument(o: OptionsGen): unknown {
  switch (o.form) {
    case 'none':
      return undefined
    case 'duration':
      return o.ttl
    case 'junk':
      return o.junk
    default: {
      const out: Record<string, unknown> = {}
      if ('ttl' in o) out.ttl = o.ttl
      if ('grace' in o) out.grace = o.grace
      if ('tags' in o) out.tags = o.tags
      return out
    }
  }
}

/** How long a write lives (ms), for deciding whether to check it is present; 1 h by default. */
function lifetime(o: OptionsGen): number | undefined {
  if (o.form === 'duration') {
    return typeof o.ttl === 'object' && o.ttl !== null ? 3_600_000 : durationMs(o.ttl, 3_600_000)
  }
  if (o.form === 'object') return durationMs(o.ttl, 3_600_000)
  return 3_600_000
}

function tagsOf(o: OptionsGen): string[] {
  return o.form === 'object' && Array.isArray(o.tags) ? [...new Set(o.tags as string[])] : []
}

// ---------------------------------------------------------------------------------------------
// Interpreter

interface ModelEntry {
  readonly gen: ValueGen
  readonly value: unknown
  /** Long-lived (≥ 1 minute): its presence is checked. */
  readonly long: boolean
  readonly tags: readonly string[]
}

/** The state a run keeps: what the fuzzed namespace holds, and every key ever accepted. */
export class World {
  readonly model = new Map<string, ModelEntry>()
  /** Keys as stored in a remote tier that some accepted call wrote (`fuzz:<rel>`, `fuzz#tags:<tag>`). */
  readonly accepted = new Set<string>()
  /** Keys invalidated by tag: invisible to reads, but their entries may stay in the tiers. */
  readonly ghosts = new Set<string>()
  readonly violations: string[] = []
  readonly storeErrors: unknown[] = []

  constructor(readonly h: Harness) {
    h.cache.on('error', (e) => this.storeErrors.push(e))
  }

  fail(message: string): void {
    this.violations.push(message)
  }

  /** Runs one operation on the fuzzed namespace (`fz`). */
  async run(op: Op): Promise<void> {
    await this.#run(this.h.cache.namespace('fz'), 'fz:', op)
    if (this.storeErrors.length > 0) {
      this.fail(`a healthy backend reported errors: ${this.storeErrors.map(String).join('; ')}`)
      this.storeErrors.length = 0
    }
  }

  /** Forgets the fuzzed namespace: clears it and checks it is empty in every tier. */
  async reset(): Promise<void> {
    await this.h.cache.namespace('fz').clear()
    for (const rel of [...this.model.keys(), ...this.ghosts]) {
      await this.#expectAbsent(rel, 'after clearing the fuzzed namespace')
    }
    this.model.clear()
    this.ghosts.clear()
  }

  /**
   * Calls `fn`. A method that returns a promise must report refusals by rejecting it: a
   * synchronous throw is a violation, unless `sync` says the method is synchronous.
   */
  async #call(
    fn: () => unknown,
    sync = false,
    name = 'a method',
  ): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
    let result: unknown
    try {
      result = fn()
    } catch (error) {
      if (!sync) this.fail(`${name} threw synchronously instead of rejecting: ${describeError(error)}`)
      return { ok: false, error }
    }
    try {
      return { ok: true, value: await result }
    } catch (error) {
      return { ok: false, error }
    }
  }

  /** Reads one key in every tier; problems when it is not `want` (a model entry, or absent). */
  async #expectTiers(rel: string, want: ModelEntry | undefined, context: string): Promise<void> {
    for (const tier of this.h.tiers) {
      const got = await tier.read(this.h.root, rel)
      if (want === undefined) {
        if (got.found && !this.ghosts.has(rel))
          this.fail(`${context}: ${show(rel)} is still in ${tier.level}`)
        continue
      }
      if (!want.long) continue
      if (!got.found) {
        this.fail(`${context}: ${show(rel)} is missing from ${tier.level}`)
        continue
      }
      if (tier.level === 'l1_memory') {
        if (!Object.is(got.value, want.value)) {
          const diff = deepSame(got.value, want.value)
          if (diff !== undefined) this.fail(`${context}: ${show(rel)} differs in ${tier.level}: ${diff}`)
        }
        continue
      }
      const expected =
        want.gen.kind === 'normalised'
          ? defaultSerializer.deserialize(defaultSerializer.serialize(want.value))
          : want.value
      const diff = deepSame(got.value, expected)
      if (diff !== undefined) this.fail(`${context}: ${show(rel)} differs in ${tier.level}: ${diff}`)
    }
  }

  /** After a physical delete: absent from every tier (a tag-invalidated ghost included). */
  async #expectAbsent(rel: string, context: string): Promise<void> {
    this.ghosts.delete(rel)
    await this.#expectTiers(rel, undefined, context)
  }

  /** No remote tier holds a key that no accepted call wrote; L1 did not grow. */
  async #expectNothingNew(l1Before: number, context: string): Promise<void> {
    const l1 = this.h.tiers[0]
    if (l1 !== undefined) {
      const after = await l1.count()
      if (after > l1Before) this.fail(`${context}: L1 grew from ${l1Before} to ${after} entries`)
    }
    for (const tier of this.h.tiers) {
      const keys = await tier.keys()
      if (keys === undefined) continue
      for (const k of keys) {
        if (k === `${this.h.root}:probe`) continue
        if (!this.accepted.has(k) && !this.h.sentinelKeys.has(k)) {
          this.fail(`${context}: ${tier.level} holds ${show(k)}, which no accepted call wrote`)
        }
      }
    }
  }

  #refused(name: string, v: Verdict, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code
    if (!isTierCacheError(error)) {
      this.fail(`${name} threw an error that is not a tiercache error: ${describeError(error)}`)
      return
    }
    if (!(ERROR_CODES as readonly string[]).includes(String(code)) || !INPUT_CODES.has(String(code))) {
      this.fail(`${name} threw ${String(code)}, not an input error code`)
      return
    }
    if (v.codes.size === 0 && !v.maybe.has(String(code))) {
      this.fail(`${name} refused valid arguments with ${String(code)}: ${describeError(error)}`)
    } else if (v.codes.size > 0 && !v.codes.has(String(code)) && !v.maybe.has(String(code))) {
      this.fail(
        `${name} refused with ${String(code)}, expected one of ${[...v.codes].join(', ')}: ${describeError(error)}`,
      )
    }
  }

  #accepted(name: string, v: Verdict): boolean {
    if (v.codes.size > 0) {
      this.fail(`${name} accepted invalid arguments (expected ${[...v.codes].join(', ')})`)
      return false
    }
    return true
  }

  #remember(
    rel: string,
    gen: ValueGen,
    value: unknown,
    ms: number | undefined,
    tags: readonly string[],
  ): void {
    this.accepted.add(`${this.h.root}:${rel}`)
    this.ghosts.delete(rel)
    this.model.set(rel, { gen, value, long: ms !== undefined && ms >= 60_000, tags })
  }

  async #run(view: Cache, prefix: string, op: Op): Promise<void> {
    const l1Before = (await this.h.tiers[0]?.count()) ?? 0
    const name = `${op.op}${prefix === 'fz:' ? '' : ` in ${show(prefix)}`}`
    switch (op.op) {
      case 'set':
      case 'getOrSet': {
        const v = verdict()
        if (!keyOk(op.key)) v.codes.add('E_INVALID_KEY')
        judgeOptions(v, op.options)
        const rel = keyOk(op.key) ? prefix + op.key : undefined
        const before = rel === undefined ? undefined : this.model.get(rel)
        const present = before?.long === true
        // A loader answering `undefined` is not an error: getOrSet answers it and caches nothing.
        const skips = op.op === 'getOrSet' && op.value.kind === 'refused' && op.value.what === 'undefined'
        if ((op.op === 'set' || !present) && !skips) judgeValue(v, op.value)
        // Values the types refuse (undefined) are sent on purpose: the engine must refuse them too.
        const value = (op.value.kind === 'claimed' ? op.value.value : op.value.make()) as {} | null
        let loaded = false
        const outcome = await this.#call(
          () =>
            op.op === 'set'
              ? view.set(op.key as string, value, optionsArgument(op.options) as never)
              : view.getOrSet(
                  op.key as string,
                  () => {
                    loaded = true
                    return value
                  },
                  optionsArgument(op.options) as never,
                ),
          false,
          name,
        )
        if (!outcome.ok) {
          // A getOrSet that found the key never sees the value: only its own arguments count.
          this.#refused(name, v, outcome.error)
          if (rel !== undefined) await this.#expectTiers(rel, before, `after a refused ${name}`)
          await this.#expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.#accepted(name, v) || rel === undefined) return
        if (skips && loaded) {
          if (outcome.value !== undefined)
            this.fail(`${name} with a loader answering undefined answered a value`)
          await this.#expectTiers(rel, before, `after ${name} whose loader answered undefined`)
          return
        }
        if (op.op === 'getOrSet' && !loaded) {
          if (before === undefined) {
            // Found in the cache without the model knowing it: possible only for short-lived entries.
            return
          }
          const diff = deepSame(outcome.value, before.value)
          if (before.gen.kind === 'claimed' && diff !== undefined)
            this.fail(`${name} answered another value: ${diff}`)
          return
        }
        this.#remember(rel, op.value, value, lifetime(op.options), tagsOf(op.options))
        await this.#expectTiers(rel, this.model.get(rel), `after ${name}`)
        const entry = this.model.get(rel) as ModelEntry
        if (entry.long) {
          const read = await view.get(op.key as string)
          if (op.value.kind === 'claimed') {
            const diff = deepSame(read, value)
            if (diff !== undefined) this.fail(`get after ${name} differs: ${diff}`)
          }
        }
        return
      }
      case 'get':
      case 'peek':
      case 'has':
      case 'delete': {
        const v = verdict()
        if (!keyOk(op.key)) v.codes.add('E_INVALID_KEY')
        const rel = keyOk(op.key) ? prefix + op.key : undefined
        const before = rel === undefined ? undefined : this.model.get(rel)
        const outcome = await this.#call(
          () => (view[op.op] as (k: string) => unknown).call(view, op.key as string),
          op.op === 'peek',
          name,
        )
        if (!outcome.ok) {
          this.#refused(name, v, outcome.error)
          if (rel !== undefined) await this.#expectTiers(rel, before, `after a refused ${name}`)
          await this.#expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.#accepted(name, v) || rel === undefined) return
        if (op.op === 'delete') {
          this.model.delete(rel)
          // A deleted ghost is gone from every tier too.
          await this.#expectAbsent(rel, `after ${name}`)
        } else if (before?.long) {
          if (op.op === 'has' && outcome.value !== true)
            this.fail(`has(${show(op.key)}) of a stored key answered ${String(outcome.value)}`)
          if ((op.op === 'get' || op.op === 'peek') && before.gen.kind === 'claimed') {
            const diff = deepSame(outcome.value, before.value)
            if (diff !== undefined) this.fail(`${name}(${show(op.key)}) differs: ${diff}`)
          }
        } else if (before === undefined && !this.#mayExist(rel)) {
          if (op.op === 'has' && outcome.value !== false)
            this.fail(`has(${show(op.key)}) of a missing key answered ${String(outcome.value)}`)
          if (op.op !== 'has' && outcome.value !== undefined)
            this.fail(`${name}(${show(op.key)}) of a missing key answered a value`)
        }
        await this.#expectNothingNew(Number.POSITIVE_INFINITY, `after ${name}`)
        return
      }
      case 'getMany':
      case 'deleteMany': {
        const v = verdict()
        if (!Array.isArray(op.keys)) v.codes.add('E_INVALID_KEY')
        else if (!op.keys.every(keyOk)) v.codes.add('E_INVALID_KEY')
        const rels = Array.isArray(op.keys) ? op.keys.filter(keyOk).map((k) => prefix + k) : []
        const before = new Map(rels.map((r) => [r, this.model.get(r)]))
        const outcome = await this.#call(
          () => (view[op.op] as (k: unknown) => unknown).call(view, op.keys),
          false,
          name,
        )
        if (!outcome.ok) {
          this.#refused(name, v, outcome.error)
          for (const rel of rels) await this.#expectTiers(rel, before.get(rel), `after a refused ${name}`)
          await this.#expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.#accepted(name, v)) return
        if (op.op === 'deleteMany') {
          for (const rel of rels) {
            this.model.delete(rel)
            await this.#expectAbsent(rel, `after ${name}`)
          }
        } else {
          const values = outcome.value as unknown[]
          if (!Array.isArray(values) || values.length !== rels.length) {
            this.fail(
              `getMany of ${rels.length} keys answered ${Array.isArray(values) ? values.length : typeof values} slots`,
            )
            return
          }
          for (const [i, rel] of rels.entries()) {
            const want = this.model.get(rel)
            if (want?.long && want.gen.kind === 'claimed') {
              const diff = deepSame(values[i], want.value)
              if (diff !== undefined) this.fail(`getMany slot ${i} (${show(rel)}) differs: ${diff}`)
            }
          }
        }
        return
      }
      case 'setMany': {
        const v = verdict()
        const items = op.items
        type Item = { key: unknown; gen: ValueGen; ttl?: unknown; tags?: unknown }
        const good: Item[] = []
        if (!Array.isArray(items)) v.codes.add('E_INVALID_OPTION')
        else {
          for (const item of items as unknown[]) {
            if (typeof item !== 'object' || item === null) {
              v.codes.add('E_INVALID_OPTION')
              continue
            }
            const it = item as Item
            if (!keyOk(it.key)) v.codes.add('E_INVALID_KEY')
            judgeValue(v, it.gen)
            if ('ttl' in it) judgeDuration(v, it.ttl)
            if ('tags' in it && !isTagList(it.tags)) v.codes.add('E_INVALID_OPTION')
            good.push(it)
          }
        }
        const arg = Array.isArray(items)
          ? (items as unknown[]).map((item) => {
              if (typeof item !== 'object' || item === null) return item
              const it = item as Item
              const out: Record<string, unknown> = {
                key: it.key,
                value: it.gen.kind === 'claimed' ? it.gen.value : it.gen.make(),
              }
              if ('ttl' in it) out.ttl = it.ttl
              if ('tags' in it) out.tags = it.tags
              return out
            })
          : items
        const rels = good.filter((it) => keyOk(it.key)).map((it) => prefix + (it.key as string))
        const before = new Map(rels.map((r) => [r, this.model.get(r)]))
        const outcome = await this.#call(() => view.setMany(arg as never), false, name)
        if (!outcome.ok) {
          this.#refused(name, v, outcome.error)
          for (const rel of rels) await this.#expectTiers(rel, before.get(rel), `after a refused ${name}`)
          await this.#expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.#accepted(name, v)) return
        const written = arg as { key: string; value: unknown; ttl?: unknown; tags?: unknown }[]
        for (const [i, it] of written.entries()) {
          const gen = (good[i] as Item).gen
          this.#remember(
            prefix + it.key,
            gen,
            it.value,
            durationMs(it.ttl, 3_600_000),
            Array.isArray(it.tags) ? (it.tags as string[]) : [],
          )
        }
        // The last write of a key wins.
        for (const rel of new Set(written.map((it) => prefix + it.key))) {
          await this.#expectTiers(rel, this.model.get(rel), `after ${name}`)
        }
        return
      }
      case 'deleteByPattern': {
        const v = verdict()
        const p = op.pattern
        const valid =
          typeof p === 'string' && p.length > 0 && isPortableText(p) && !/(^|[^\\])(\\\\)*\\$/.test(p)
        if (!valid) v.codes.add('E_INVALID_PATTERN')
        const outcome = await this.#call(() => view.deleteByPattern(p as string), false, name)
        if (!outcome.ok) {
          this.#refused(name, v, outcome.error)
          for (const [rel, entry] of this.model)
            if (rel.startsWith(prefix)) await this.#expectTiers(rel, entry, `after a refused ${name}`)
          await this.#expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.#accepted(name, v)) return
        const full = escapePattern(prefix) + (p as string)
        let longDeleted = 0
        for (const [rel, entry] of [...this.model]) {
          const match = referenceMatch(full, rel)
          if (match) {
            if (entry.long) longDeleted++
            this.model.delete(rel)
            await this.#expectAbsent(rel, `after ${name}(${show(p)})`)
          } else {
            await this.#expectTiers(rel, entry, `after ${name}(${show(p)}), a key it does not match`)
          }
        }
        for (const rel of [...this.ghosts]) {
          if (referenceMatch(full, rel))
            await this.#expectAbsent(rel, `after ${name}(${show(p)}), a tag-invalidated key`)
        }
        if (typeof outcome.value !== 'number' || outcome.value < longDeleted) {
          this.fail(
            `${name}(${show(p)}) answered ${String(outcome.value)} but deleted at least ${longDeleted} keys`,
          )
        }
        return
      }
      case 'invalidateTags': {
        const v = verdict()
        if (!isTagList(op.tags) || op.tags === undefined) v.codes.add('E_INVALID_OPTION')
        const outcome = await this.#call(() => view.invalidateTags(op.tags as string[]), false, name)
        if (!outcome.ok) {
          this.#refused(name, v, outcome.error)
          await this.#expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.#accepted(name, v)) return
        const tags = new Set(op.tags as string[])
        for (const tag of tags) this.accepted.add(`${this.h.root}#tags:${tag}`)
        for (const [rel, entry] of [...this.model]) {
          if (!entry.tags.some((t) => tags.has(t))) continue
          this.model.delete(rel)
          this.ghosts.add(rel)
          const key = rel.slice('fz:'.length)
          const read = await this.h.cache.namespace('fz').get(key)
          if (read !== undefined)
            this.fail(`get(${show(rel)}) after invalidating one of its tags answered a value`)
        }
        return
      }
      case 'clear': {
        const outcome = await this.#call(() => view.clear(), false, name)
        if (!outcome.ok) {
          this.fail(`clear() failed: ${describeError(outcome.error)}`)
          return
        }
        for (const rel of [...this.model.keys(), ...this.ghosts]) {
          if (!rel.startsWith(prefix)) continue
          this.model.delete(rel)
          await this.#expectAbsent(rel, `after clear() of ${show(prefix)}`)
        }
        return
      }
      case 'namespace': {
        const n = op.name
        const ok = typeof n === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(n)
        const outcome = await this.#call(() => view.namespace(n as string), true)
        if (!outcome.ok) {
          const v = verdict()
          v.codes.add('E_INVALID_OPTION')
          this.#refused(`namespace(${show(n)})`, ok ? verdict() : v, outcome.error)
          return
        }
        if (!ok) {
          this.fail(`namespace(${show(n)}) accepted an invalid name`)
          return
        }
        await this.#run(outcome.value as Cache, `${prefix}${n}:`, op.inner)
        return
      }
      case 'wrap': {
        const v = verdict()
        if (typeof op.name !== 'string' || op.name.length === 0) v.codes.add('E_INVALID_OPTION')
        // Values the types refuse (undefined) are sent on purpose: the engine must refuse them too.
        const value = (op.value.kind === 'claimed' ? op.value.value : op.value.make()) as {} | null
        const made = await this.#call(() => view.wrap(op.name as string, () => value), true)
        if (!made.ok) {
          this.#refused(`wrap(${show(op.name)})`, v, made.error)
          return
        }
        if (!this.#accepted(`wrap(${show(op.name)})`, v)) return
        const fn = made.value as ((...args: unknown[]) => Promise<unknown>) & {
          keyFor(...args: unknown[]): string
        }
        const keyOutcome = await this.#call(() => fn.keyFor(...op.args), true)
        const callOutcome = await this.#call(() => fn(...op.args), false, 'a wrapped call')
        if (!keyOutcome.ok) {
          // Arguments that cannot make a key: the call must be refused the same way.
          this.#refused(
            'wrap key',
            { codes: new Set(['E_INVALID_OPTION']), maybe: new Set() },
            keyOutcome.error,
          )
          if (callOutcome.ok) this.fail('a wrapped call whose arguments make no key was not refused')
          else
            this.#refused(
              'wrapped call',
              { codes: new Set(['E_INVALID_OPTION']), maybe: new Set() },
              callOutcome.error,
            )
          await this.#expectNothingNew(l1Before, 'after a refused wrapped call')
          return
        }
        const key = keyOutcome.value as string
        const cv = verdict()
        if (!keyOk(key)) cv.codes.add('E_INVALID_KEY')
        const rel = keyOk(key) ? prefix + key : undefined
        const before = rel === undefined ? undefined : this.model.get(rel)
        // Like getOrSet, a wrapped function answering `undefined` is answered and not cached.
        const skips = op.value.kind === 'refused' && op.value.what === 'undefined'
        if (!before?.long && !skips) judgeValue(cv, op.value)
        if (!callOutcome.ok) {
          this.#refused('wrapped call', cv, callOutcome.error)
          if (rel !== undefined) await this.#expectTiers(rel, before, 'after a refused wrapped call')
          await this.#expectNothingNew(l1Before, 'after a refused wrapped call')
          return
        }
        if (!this.#accepted('wrapped call', cv) || rel === undefined || before !== undefined) return
        if (skips) {
          if (callOutcome.value !== undefined)
            this.fail('a wrapped function answering undefined answered a value')
          await this.#expectAbsent(rel, 'after a wrapped call that answered undefined')
          return
        }
        this.#remember(rel, op.value, value, 3_600_000, [])
        await this.#expectTiers(rel, this.model.get(rel), 'after a wrapped call')
        return
      }
      case 'warm': {
        const src = op.source
        // Values the types refuse (undefined) are sent on purpose: the engine must refuse them too.
        const value = (op.value.kind === 'claimed' ? op.value.value : op.value.make()) as {} | null
        const outcome = await this.#call(
          () => view.warm(src as string[], { loader: () => value }),
          false,
          'warm',
        )
        if (!Array.isArray(src)) {
          if (outcome.ok) this.fail(`warm(${show(src)}) accepted a source that is not a list of keys`)
          else
            this.#refused(
              `warm(${show(src)})`,
              { codes: new Set(['E_INVALID_OPTION']), maybe: new Set() },
              outcome.error,
            )
          await this.#expectNothingNew(l1Before, 'after a refused warm')
          return
        }
        if (!outcome.ok) {
          this.fail(`warm of a list failed as a whole: ${describeError(outcome.error)}`)
          return
        }
        const summary = outcome.value as { failures: { key: string; error: unknown }[]; succeeded: number }
        for (const f of summary.failures) {
          if (!isTierCacheError(f.error) || !INPUT_CODES.has(String((f.error as { code: unknown }).code))) {
            this.fail(`warm reported a failure that is not a typed input error: ${describeError(f.error)}`)
          }
        }
        // A string is a key (loaded with the loader); anything else is taken as a { key, value }
        // entry, and a non-object one is refused.
        let invalid = 0
        for (const key of src) {
          const v = verdict()
          if (!keyOk(key)) v.codes.add('E_INVALID_KEY')
          judgeValue(v, op.value)
          if (v.codes.size > 0) {
            invalid++
            continue
          }
          if (summary.failures.some((f) => f.key === key))
            this.fail(`warm refused the valid key ${show(key)}`)
          this.#remember(prefix + (key as string), op.value, value, 3_600_000, [])
        }
        if (summary.failures.length !== invalid) {
          this.fail(
            `warm of ${src.length} items with ${invalid} invalid ones reported ${summary.failures.length} failures`,
          )
        }
        for (const key of new Set(src.filter(keyOk))) {
          if (op.value.kind !== 'refused')
            await this.#expectTiers(prefix + key, this.model.get(prefix + key), 'after warm')
        }
        await this.#expectNothingNew(Number.POSITIVE_INFINITY, 'after warm')
        return
      }
    }
  }

  /** A key the model does not know may still be in the cache when a short-lived write made it. */
  #mayExist(rel: string): boolean {
    return this.accepted.has(`${this.h.root}:${rel}`)
  }
}

export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)
  if (typeof v === 'symbol' || typeof v === 'function') return typeof v
  if (typeof v === 'bigint') return `${v}n`
  try {
    return JSON.stringify(v) ?? String(v)
  } catch {
    return Object.prototype.toString.call(v)
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return `${error.name}${code ? ` (${String(code)})` : ''}: ${error.message.slice(0, 200)}`
  }
  return show(error)
}
