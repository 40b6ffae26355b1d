import {
  defaultSerializer,
  isTierCacheError,
  NEVER,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
} from '@tiercache/core/store'
import { runCoherenceSuite } from './coherence.js'
import type { StoreSuiteOptions } from './options.js'
import { sameValue, TRICKY_KEY_PARTS, valueSamples } from './samples.js'

const CAPABILITY_NAMES = [
  'getMany',
  'setMany',
  'deleteMany',
  'deleteByPattern',
  'has',
  'stats',
  'close',
] as const

/** Codes a store failure may carry. */
const STORE_FAILURE_CODES: readonly string[] = ['E_STORE', 'E_STORE_TIMEOUT', 'E_CIRCUIT_OPEN', 'E_CLOSED']

let counter = 0
function uniqueNamespace(): string {
  counter++
  return `ts${process.pid.toString(36)}${Date.now().toString(36)}${counter.toString(36)}`
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** How a call ended: its value, its error, or nothing within the deadline. */
type Settled = { ok: true; value: unknown } | { ok: false; error: unknown } | { ok: 'hung' }

/** Runs `fn`, never rejecting; reports a call that has not settled after `ms` as hung. */
async function settle(fn: () => unknown, ms: number): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ ok: 'hung' }), ms)
  })
  const run = (async (): Promise<Settled> => {
    try {
      return { ok: true, value: await fn() }
    } catch (error) {
      return { ok: false, error }
    }
  })()
  try {
    return await Promise.race([run, hung])
  } finally {
    clearTimeout(timer)
  }
}

function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.byteLength})`
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
  if (typeof value === 'object' && value !== null)
    return `an object (${Object.keys(value).slice(0, 5).join(', ')})`
  return String(value)
}

/**
 * Registers the conformance tests for a {@link Store} with your test runner. Every rule of the
 * Store contract has a test, and every assertion carries a message naming the rule it checks; a
 * store passes when every test passes.
 *
 * @param options - the runner's `describe`/`test`/`expect`, a `create` factory, the expected
 *   capabilities, and optionally a `failing` factory for the failure tests
 * @example
 * ```ts
 * import { describe, expect, test } from 'vitest'
 * import { runStoreSuite } from '@tiercache/store-test-suite'
 * import { myStore } from '../src/index.js'
 *
 * runStoreSuite({ describe, test, expect, create: () => myStore({ prefix: `t${Date.now()}:` }) })
 * ```
 */
export function runStoreSuite(options: StoreSuiteOptions): void {
  const { describe, test, expect, create } = options
  const serializer = options.serializer ?? defaultSerializer
  const granularity = options.ttlGranularity ?? 100
  const timeout = options.timeout ?? 30_000
  /** How long one call may take before the suite calls it hung (well inside the test timeout). */
  const callDeadline = Math.max(1000, Math.floor(timeout / 3))

  /** Runs `fn` with a fresh store and a unique namespace, closing the store afterwards. */
  const withStore = (fn: (store: Store<any>, ns: string) => Promise<void>) => async (): Promise<void> => {
    const store = await create()
    try {
      await fn(store, uniqueNamespace())
    } finally {
      await store.close?.()
    }
  }

  const caps = (store: Store<any>): StoreCapabilities => store.capabilities

  /** Builds an entry of the right kind for the store. */
  const entryFor = (
    store: Store<any>,
    value: unknown,
    meta: Partial<Omit<StoreEntry, 'value'>> = {},
  ): StoreEntry<any> => {
    const now = Date.now()
    const bytes = serializer.serialize(value)
    return {
      value: store.kind === 'memory' ? value : bytes,
      createdAt: meta.createdAt ?? now,
      freshUntil: meta.freshUntil ?? now + 60_000,
      staleUntil: meta.staleUntil ?? now + 120_000,
      tags: meta.tags ?? [],
      size: meta.size ?? bytes.byteLength,
    }
  }

  /** Decodes what a store returned to the live value; names `kind` when the value has the wrong form. */
  const decoded = (store: Store<any>, entry: StoreEntry<any>, label: string): unknown => {
    if (store.kind === 'memory') return entry.value
    const bytes = entry.value as unknown
    if (!(bytes instanceof Uint8Array)) {
      throw new Error(
        `${label}: the store returned ${show(bytes)} where a kind: 'remote' store returns the Uint8Array it was given ` +
          `(a store that keeps live values declares kind: 'memory')`,
      )
    }
    return serializer.deserialize(bytes)
  }

  const expectSame = (actual: unknown, expected: unknown, label: string): void => {
    expect(sameValue(actual, expected, label), label).toBeUndefined()
  }

  const present = async (store: Store<any>, key: string): Promise<boolean> =>
    (await store.get(key)) !== undefined

  const title = options.name ?? 'store conformance'
  describe(title, () => {
    test(
      'declares a name, a kind and its capabilities',
      withStore(async (store) => {
        expect(typeof store.name, 'store.name is a string').toBe('string')
        expect(store.name.length > 0, 'store.name is not empty').toBe(true)
        expect(
          store.kind === 'memory' || store.kind === 'remote',
          `store.kind is 'memory' or 'remote' (got ${show(store.kind)})`,
        ).toBe(true)
        expect(
          typeof store.capabilities === 'object' && store.capabilities !== null,
          'store.capabilities is an object',
        ).toBe(true)
        for (const name of CAPABILITY_NAMES) {
          const declared = store.capabilities[name] === true
          if (declared) {
            expect(typeof store[name], `capability ${name} is declared, so store.${name} is a function`).toBe(
              'function',
            )
          }
          if (options.capabilities) {
            expect(declared, `capability ${name} is declared exactly as pinned in the suite's options`).toBe(
              options.capabilities[name] === true,
            )
          }
        }
        for (const method of ['get', 'set', 'delete', 'clear'] as const) {
          expect(typeof store[method], `store.${method} is a function`).toBe('function')
        }
      }),
      timeout,
    )

    test(
      "kind matches what the store keeps: the live value ('memory') or the bytes ('remote')",
      withStore(async (store, ns) => {
        const key = `${ns}:kind`
        const value = { probe: [1, 'two'] }
        const entry = entryFor(store, value)
        const wrote = await settle(() => store.set(key, entry), callDeadline)
        expect(
          wrote.ok,
          `set() of ${store.kind === 'memory' ? 'a live value' : 'bytes'} succeeds (the engine gives kind: '${store.kind}' stores ${store.kind === 'memory' ? "live values; a store that keeps bytes declares kind: 'remote'" : "bytes; a store that keeps live values declares kind: 'memory'"}), got ${wrote.ok === false ? String(wrote.error) : 'no answer'}`,
        ).toBe(true)
        const got = await store.get(key)
        expect(got !== undefined, 'get after set returns the entry').toBe(true)
        if (store.kind === 'memory') {
          expect(
            Object.is(got!.value, value),
            "kind is 'memory', so get() returns the very object given to set(); a store that copies or encodes values declares kind: 'remote'",
          ).toBe(true)
        } else {
          expect(
            got!.value instanceof Uint8Array,
            `kind is 'remote', so get() returns the bytes given to set() (got ${show(got!.value)}); a store that keeps live values declares kind: 'memory'`,
          ).toBe(true)
        }
      }),
      timeout,
    )

    test(
      'get of a missing key resolves undefined and does not throw',
      withStore(async (store, ns) => {
        const got = await store.get(`${ns}:missing`)
        expect(got, `get of a missing key resolves undefined (got ${show(got)})`).toBeUndefined()
      }),
      timeout,
    )

    const samples = valueSamples()
    test(
      'round-trips every value shape, and leaves the given bytes untouched',
      withStore(async (store, ns) => {
        for (const [name, value] of Object.entries(samples)) {
          const key = `${ns}:value:${name}`
          const entry = entryFor(store, value)
          const copy = store.kind === 'remote' ? Buffer.from(entry.value as Uint8Array) : undefined
          await store.set(key, entry)
          if (copy !== undefined) {
            expect(
              copy.equals(Buffer.from(entry.value as Uint8Array)),
              `set() of ${name} leaves the bytes it was given unchanged (they are shared with the other tiers)`,
            ).toBe(true)
          }
          const got = await store.get(key)
          expect(got !== undefined, `get after set of ${name} returns the entry`).toBe(true)
          const live = decoded(store, got!, name)
          if (store.kind === 'memory') {
            expect(
              Object.is(got!.value, value),
              `a kind: 'memory' store keeps the live value (${name})`,
            ).toBe(true)
          } else {
            expect(
              Buffer.from(got!.value as Uint8Array).equals(copy as Buffer),
              `bytes of ${name} read back exactly as written`,
            ).toBe(true)
          }
          expectSame(live, value, name)
        }
      }),
      timeout,
    )

    test(
      'preserves entry metadata exactly',
      withStore(async (store, ns) => {
        const now = Date.now()
        const cases: Omit<StoreEntry, 'value'>[] = [
          { createdAt: now - 5_001, freshUntil: now + 10_003, staleUntil: now + 70_007, tags: [] },
          {
            createdAt: now,
            freshUntil: now + 1,
            staleUntil: NEVER,
            tags: ['user:1', 'tag with space', 'ünï:🌍', '*?%_', 'Case'],
          },
          { createdAt: now - 1, freshUntil: now - 1, staleUntil: now + 60_000, tags: ['stale-but-kept'] },
        ]
        for (const [i, meta] of cases.entries()) {
          const key = `${ns}:meta:${i}`
          await store.set(key, entryFor(store, { i }, meta))
          const got = await store.get(key)
          expect(
            got !== undefined,
            `entry ${i} (staleUntil ${meta.staleUntil === NEVER ? 'NEVER' : '+60 s or more'}) is stored`,
          ).toBe(true)
          expect(got!.createdAt, `createdAt of entry ${i}, to the millisecond`).toBe(meta.createdAt)
          expect(got!.freshUntil, `freshUntil of entry ${i}, to the millisecond`).toBe(meta.freshUntil)
          expect(got!.staleUntil, `staleUntil of entry ${i}, to the millisecond`).toBe(meta.staleUntil)
          expect([...got!.tags], `tags of entry ${i}, in order`).toEqual([...meta.tags])
          expectSame(decoded(store, got!, `value ${i}`), { i }, `value ${i}`)
        }
      }),
      timeout,
    )

    test(
      'overwriting a key replaces its value and metadata',
      withStore(async (store, ns) => {
        const key = `${ns}:over`
        await store.set(key, entryFor(store, 'first', { tags: ['a'] }))
        const second = entryFor(store, { second: true }, { tags: ['b', 'c'], freshUntil: Date.now() + 5_000 })
        await store.set(key, second)
        const got = await store.get(key)
        expect(got !== undefined, 'the key holds an entry after the second set').toBe(true)
        expectSame(decoded(store, got!, 'value'), { second: true }, 'value after overwrite')
        expect([...got!.tags], 'tags after overwrite are the second write’s, not merged').toEqual(['b', 'c'])
        expect(got!.freshUntil, 'freshUntil after overwrite').toBe(second.freshUntil)
      }),
      timeout,
    )

    test(
      'never returns an entry past its staleUntil (physical expiry), from get, has or getMany',
      withStore(async (store, ns) => {
        const past = `${ns}:expired`
        await store.set(
          past,
          entryFor(store, 'old', { staleUntil: Date.now() - 1, freshUntil: Date.now() - 10 }),
        )
        expect(await store.get(past), 'get() of an entry written already past its staleUntil').toBeUndefined()

        // One key per reader, each read first by that reader: a get() that deletes what it finds
        // expired must not hide a has() or getMany() that ignores expiry.
        const byGet = `${ns}:soon:get`
        const byHas = `${ns}:soon:has`
        const byGetMany = `${ns}:soon:getMany`
        const now = Date.now()
        for (const key of [byGet, byHas, byGetMany]) {
          await store.set(
            key,
            entryFor(store, 'soon', { freshUntil: now, staleUntil: now + granularity * 3 }),
          )
        }
        expect(
          await present(store, byGet),
          'present before staleUntil even though freshUntil passed (freshness is not the store’s business)',
        ).toBe(true)
        await sleep(granularity * 5 + 20)
        if (store.capabilities.has) {
          expect(await store.has!(byHas), 'has() after staleUntil, before any get()').toBe(false)
        }
        if (store.capabilities.getMany) {
          const [one] = await store.getMany!([byGetMany])
          expect(one, 'getMany() after staleUntil, before any get()').toBeUndefined()
        }
        expect(await store.get(byGet), 'get() after staleUntil').toBeUndefined()
      }),
      timeout,
    )

    test(
      'delete removes a key, resolves whether it existed, and tolerates missing keys',
      withStore(async (store, ns) => {
        const key = `${ns}:del`
        await store.set(key, entryFor(store, 1))
        expect(await store.delete(key), 'delete of an existing key resolves true').toBe(true)
        expect(await store.get(key), 'get after delete').toBeUndefined()
        const again = await store.delete(key)
        expect(typeof again, 'delete of a deleted key resolves a boolean').toBe('boolean')
        const missing = await settle(() => store.delete(`${ns}:never-existed`), callDeadline)
        expect(missing.ok, 'delete of a key that never existed does not throw').toBe(true)
      }),
      timeout,
    )

    test(
      'keys with special characters are stored and read literally (case and spaces included)',
      withStore(async (store, ns) => {
        const keys = [...TRICKY_KEY_PARTS.map((p) => `${ns}:${p}`), `${ns}:${'k'.repeat(900)}`]
        for (const [i, key] of keys.entries()) await store.set(key, entryFor(store, i))
        for (const [i, key] of keys.entries()) {
          const got = await store.get(key)
          expect(got !== undefined, `key ${show(key)} is found`).toBe(true)
          expectSame(decoded(store, got!, key), i, `value of key ${show(key)}`)
        }
        // Lookalike keys must not be found.
        for (const lookalike of [
          `${ns}:star_key`,
          `${ns}:percentXkey`,
          `${ns}:mixedcase`,
          `${ns}:trailing`,
        ]) {
          expect(await store.get(lookalike), `lookalike key ${show(lookalike)} is not found`).toBeUndefined()
        }
      }),
      timeout,
    )

    test(
      'clear(namespace) removes only that namespace; neighbours survive',
      withStore(async (store, ns) => {
        const target = `${ns}a`
        const inTarget = [`${target}:1`, `${target}:x:y`, `${target}:sub:deep:key`]
        const survivors = [`${ns}ab:1`, `${ns}b:1`, `${ns}:1`, `${ns}a-other:1`, `${target}x:1`, target]
        for (const key of [...inTarget, ...survivors]) await store.set(key, entryFor(store, key))
        await store.clear(target)
        for (const key of inTarget) {
          expect(await store.get(key), `${key} is cleared by clear(${show(target)})`).toBeUndefined()
        }
        for (const key of survivors) {
          expect(await present(store, key), `${key} survives clear(${show(target)})`).toBe(true)
        }
      }),
      timeout,
    )

    test(
      "clear('') removes every key the store holds",
      withStore(async (store, ns) => {
        const keys = [`${ns}:1`, `${ns}x:2`, `${ns}:a:b`, 'x', ':lead']
        for (const key of keys) await store.set(key, entryFor(store, key))
        await store.clear('')
        for (const key of keys) expect(await store.get(key), `${key} is cleared by clear('')`).toBeUndefined()
      }),
      timeout,
    )

    test(
      "clear('') leaves the keys of another store on the same backend",
      withStore(async (store, ns) => {
        // `create` gives each store its own prefix or table: clear('') of one must not reach the other.
        const other = await create()
        try {
          const key = `${ns}:neighbour`
          await other.set(key, entryFor(other, 'kept'))
          await store.set(key, entryFor(store, 'cleared'))
          await store.clear('')
          expect(await store.get(key), "the store's own key is cleared").toBeUndefined()
          expect(
            await present(other, key),
            "clear('') of one store leaves the keys of another store made by create() (clear only under the store's own prefix or table)",
          ).toBe(true)
        } finally {
          await other.close?.()
        }
      }),
      timeout,
    )

    test(
      'concurrent writes to one key leave one whole write',
      withStore(async (store, ns) => {
        const key = `${ns}:race`
        const writes = Array.from({ length: 50 }, (_, i) =>
          entryFor(
            store,
            { writer: i, payload: 'x'.repeat(i * 10) },
            { tags: [`w${i}`], freshUntil: Date.now() + 10_000 + i },
          ),
        )
        await Promise.all(writes.map((e) => store.set(key, e)))
        const got = await store.get(key)
        expect(got !== undefined, 'the key holds an entry after 50 concurrent writes').toBe(true)
        const value = decoded(store, got!, 'value') as { writer: number; payload: string }
        const i = value.writer
        expect(value.payload, 'the value is whole').toBe('x'.repeat(i * 10))
        expect([...got!.tags], 'the tags belong to the same write as the value').toEqual([`w${i}`])
        expect(got!.freshUntil, 'freshUntil belongs to the same write as the value').toBe(
          writes[i]!.freshUntil,
        )
      }),
      timeout,
    )

    test(
      'values near the size limit: accepted below it, refused above it with E_VALUE_TOO_LARGE',
      withStore(async (store, ns) => {
        const limit = store.maxEntryBytes
        const key = `${ns}:big`
        if (limit === undefined) {
          const value = Buffer.alloc(1024 * 1024, 7)
          await store.set(key, entryFor(store, value))
          const got = await store.get(key)
          expect(got !== undefined, 'a 1 MiB value is stored (no maxEntryBytes declared)').toBe(true)
          expectSame(decoded(store, got!, '1 MiB value'), value, '1 MiB value')
          return
        }
        const fits = entryFor(store, 'fits')
        const sized = (n: number): StoreEntry<any> =>
          store.kind === 'memory' ? { ...fits, size: n } : { ...fits, value: Buffer.alloc(n, 120), size: n }
        const atLimit = sized(limit)
        await store.set(key, atLimit)
        expect(await present(store, key), `an entry of exactly maxEntryBytes (${limit}) is stored`).toBe(true)
        const over = { ...sized(limit + 1), createdAt: atLimit.createdAt + 1 }
        const refused = await settle(() => store.set(key, over), callDeadline)
        expect(refused.ok, `an entry of maxEntryBytes + 1 (${limit + 1}) is refused`).toBe(false)
        const error = refused.ok === false ? refused.error : undefined
        expect(
          isTierCacheError(error, 'E_VALUE_TOO_LARGE'),
          `the refusal is a ValueTooLargeError (E_VALUE_TOO_LARGE), got ${String(error)}`,
        ).toBe(true)
        const kept = await store.get(key)
        expect(kept !== undefined, 'after a refused write the key keeps its previous entry').toBe(true)
        expect(kept!.createdAt, 'the previous entry is unchanged').toBe(atLimit.createdAt)
      }),
      timeout,
    )

    test(
      'has() reports presence (when declared)',
      withStore(async (store, ns) => {
        if (!caps(store).has) return
        const key = `${ns}:has`
        expect(await store.has!(key), 'has() of a missing key').toBe(false)
        await store.set(key, entryFor(store, 0))
        expect(await store.has!(key), 'has() after set').toBe(true)
        await store.delete(key)
        expect(await store.has!(key), 'has() after delete').toBe(false)
      }),
      timeout,
    )

    test(
      'getMany / setMany / deleteMany (when declared) keep order and match single operations',
      withStore(async (store, ns) => {
        const c = caps(store)
        const keys = Array.from({ length: 25 }, (_, i) => `${ns}:batch:${i}`)
        const even = keys.filter((_, i) => i % 2 === 0)
        if (c.setMany) {
          await store.setMany!(even.map((k) => [k, entryFor(store, k)] as const))
        } else {
          for (const k of even) await store.set(k, entryFor(store, k))
        }
        for (const [i, k] of keys.entries()) {
          expect(await present(store, k), `${k} ${i % 2 === 0 ? 'written' : 'not written'} by setMany`).toBe(
            i % 2 === 0,
          )
        }
        if (c.getMany) {
          const many = await store.getMany!(keys)
          expect(many.length, 'getMany() answers one slot per key, missing keys included').toBe(keys.length)
          for (const [i, k] of keys.entries()) {
            if (i % 2 === 0) {
              expect(many[i] !== undefined, `getMany slot ${i} holds ${k}`).toBe(true)
              expectSame(decoded(store, many[i]!, `getMany slot ${i}`), k, `getMany slot ${i}`)
            } else expect(many[i], `getMany slot ${i} (a missing key) is undefined`).toBeUndefined()
          }
          expect((await store.getMany!([])).length, 'getMany([]) answers []').toBe(0)
        }
        if (c.deleteMany) {
          const n = await store.deleteMany!(keys.slice(0, 10))
          expect(n, 'deleteMany() of 10 keys, 5 existing, counts at least those 5').toBeGreaterThanOrEqual(5)
          expect(n, 'deleteMany() of 10 keys counts at most 10').toBeLessThanOrEqual(10)
          for (const k of keys.slice(0, 10))
            expect(await store.get(k), `${k} after deleteMany`).toBeUndefined()
          expect(await present(store, keys[10]!), `${keys[10]} (not asked) survives deleteMany`).toBe(true)
          expect(await store.deleteMany!([]), 'deleteMany([]) answers 0').toBe(0)
        }
      }),
      timeout,
    )

    test(
      'deleteByPattern (when declared): prefix boundaries, ? and literal special characters',
      withStore(async (store, ns) => {
        if (!caps(store).deleteByPattern) return
        const all = [
          `${ns}:user:1`,
          `${ns}:user:22`,
          `${ns}:user:x:y`,
          `${ns}:users:1`,
          `${ns}:use:1`,
          `${ns}x:user:1`,
          `${ns}:user`,
          `${ns}:one:🌍`,
          `${ns}:one:ab`,
          `${ns}:one:`,
          `${ns}:Case:1`,
          ...TRICKY_KEY_PARTS.map((p) => `${ns}:lit:${p}`),
          `${ns}:lit:starXkey`,
          `${ns}:lit:percentXkey`,
          `${ns}:lit:underXscore`,
          `${ns}:lit:bracketakey`,
        ]
        for (const k of all) await store.set(k, entryFor(store, k))
        const gone = async (keys: string[], pattern: string): Promise<void> => {
          for (const k of keys) expect(await store.get(k), `${k} deleted by ${pattern}`).toBeUndefined()
        }
        const alive = async (keys: string[], pattern: string): Promise<void> => {
          for (const k of keys) expect(await present(store, k), `${k} survives ${pattern}`).toBe(true)
        }

        let pattern = `${ns}:user:*`
        expect(await store.deleteByPattern!(pattern), `count of ${pattern}`).toBe(3)
        await gone([`${ns}:user:1`, `${ns}:user:22`, `${ns}:user:x:y`], pattern)
        await alive([`${ns}:users:1`, `${ns}:use:1`, `${ns}x:user:1`, `${ns}:user`], pattern)

        pattern = `${ns}:user?:1`
        expect(await store.deleteByPattern!(pattern), `count of ${pattern}`).toBe(1)
        await gone([`${ns}:users:1`], pattern)
        await alive([`${ns}:use:1`], pattern)

        // `?` is one character (a code point), not a UTF-16 unit or a byte, and never none.
        pattern = `${ns}:one:?`
        expect(
          await store.deleteByPattern!(pattern),
          `count of ${pattern} (one emoji is one character)`,
        ).toBe(1)
        await gone([`${ns}:one:🌍`], pattern)
        await alive([`${ns}:one:ab`, `${ns}:one:`], pattern)

        pattern = `${ns}:case:*`
        expect(
          await store.deleteByPattern!(pattern),
          `count of ${pattern} (patterns are case-sensitive)`,
        ).toBe(0)
        await alive([`${ns}:Case:1`], pattern)

        // Each tricky key, escaped, deletes exactly itself.
        const literal = (s: string): string => s.replace(/[*?\\]/g, '\\$&')
        for (const part of TRICKY_KEY_PARTS) {
          pattern = `${ns}:lit:${literal(part)}`
          expect(await store.deleteByPattern!(pattern), `count of the literal pattern ${show(pattern)}`).toBe(
            1,
          )
        }
        await gone(
          TRICKY_KEY_PARTS.map((p) => `${ns}:lit:${p}`),
          'their literal patterns',
        )
        await alive(
          [`${ns}:lit:starXkey`, `${ns}:lit:percentXkey`, `${ns}:lit:underXscore`, `${ns}:lit:bracketakey`],
          'the literal patterns of their lookalikes',
        )

        pattern = `${ns}:nothing:*`
        expect(await store.deleteByPattern!(pattern), `count of ${pattern}`).toBe(0)
        pattern = `${ns}:*`
        expect(await store.deleteByPattern!(pattern), `count of ${pattern}`).toBe(9)
        await alive([`${ns}x:user:1`], pattern)
      }),
      timeout,
    )

    test(
      'stats() (when declared) reports numbers and booleans',
      withStore(async (store, ns) => {
        if (!caps(store).stats) return
        await store.set(`${ns}:s`, entryFor(store, 's'))
        const stats = await store.stats!()
        for (const [k, v] of Object.entries(stats)) {
          const ok = k === 'connected' ? typeof v === 'boolean' : typeof v === 'number' && v >= 0
          expect(
            ok,
            `stats().${k} is ${k === 'connected' ? 'a boolean' : 'a number ≥ 0'} (got ${show(v)})`,
          ).toBe(true)
        }
      }),
      timeout,
    )

    const failing = options.failing
    if (failing !== undefined) {
      test(
        'failures reject with a StoreError naming the store and the operation, never as a miss',
        async () => {
          const store = await failing()
          const ns = uniqueNamespace()
          const key = `${ns}:k`
          const entry = entryFor(store, 'v')
          const c = caps(store)
          const calls: [string, () => unknown][] = [
            ['get', () => store.get(key)],
            ['set', () => store.set(key, entry)],
            ['delete', () => store.delete(key)],
            ['clear', () => store.clear(ns)],
          ]
          if (c.getMany) calls.push(['getMany', () => store.getMany!([key])])
          if (c.setMany) calls.push(['setMany', () => store.setMany!([[key, entry]])])
          if (c.deleteMany) calls.push(['deleteMany', () => store.deleteMany!([key])])
          if (c.deleteByPattern) calls.push(['deleteByPattern', () => store.deleteByPattern!(`${ns}:*`)])
          if (c.has) calls.push(['has', () => store.has!(key)])
          try {
            for (const [name, call] of calls) {
              const outcome = await settle(call, callDeadline)
              expect(
                outcome.ok !== 'hung',
                `${name}() on a failing backend settles within ${callDeadline} ms`,
              ).toBe(true)
              expect(
                outcome.ok,
                `${name}() on a failing backend rejects (it resolved ${outcome.ok === true ? show(outcome.value) : ''}: a failure swallowed into a miss or a success)`,
              ).toBe(false)
              const error =
                outcome.ok === false
                  ? (outcome.error as { code?: unknown; store?: unknown; operation?: unknown })
                  : undefined
              expect(
                isTierCacheError(error) && STORE_FAILURE_CODES.includes(String(error?.code)),
                `${name}() rejects with a StoreError (code E_STORE or more specific), got ${String(error)}`,
              ).toBe(true)
              expect(error?.store, `the StoreError of ${name}() names the store (its name)`).toBe(store.name)
              expect(
                typeof error?.operation === 'string' && error.operation.length > 0,
                `the StoreError of ${name}() names the operation`,
              ).toBe(true)
            }
          } finally {
            await settle(() => store.close?.(), callDeadline)
          }
        },
        timeout,
      )
    }

    test(
      'close() can be called twice; calls after close() settle',
      async () => {
        const store = await create()
        const ns = uniqueNamespace()
        await store.set(`${ns}:c`, entryFor(store, 'c'))
        const first = await settle(() => store.close?.(), callDeadline)
        expect(
          first.ok,
          `the first close() resolves (${first.ok === false ? String(first.error) : ''})`,
        ).toBe(true)
        const second = await settle(() => store.close?.(), callDeadline)
        expect(
          second.ok,
          `a second close() resolves (${second.ok === false ? String(second.error) : ''})`,
        ).toBe(true)
        for (const [name, call] of [
          ['get', () => store.get(`${ns}:c`)],
          ['set', () => store.set(`${ns}:d`, entryFor(store, 'd'))],
        ] as const) {
          const after = await settle(call, callDeadline)
          expect(
            after.ok !== 'hung',
            `${name}() after close() settles (rejects or answers) instead of hanging`,
          ).toBe(true)
          if (after.ok === false) {
            expect(
              isTierCacheError(after.error),
              `${name}() after close() rejects with a tiercache error (E_CLOSED or E_STORE), got ${String(after.error)}`,
            ).toBe(true)
          }
        }
      },
      timeout,
    )
  })
  runCoherenceSuite(options)
}
