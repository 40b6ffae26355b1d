import {
  defaultSerializer,
  isTierCacheError,
  NEVER,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
} from '@tiercache/core'
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

let counter = 0
function uniqueNamespace(): string {
  counter++
  return `ts${process.pid.toString(36)}${Date.now().toString(36)}${counter.toString(36)}`
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Registers the conformance tests for a {@link Store} with your test runner. Every rule of the
 * Store contract has a test; a store passes when every test passes.
 *
 * @param options - the runner's `describe`/`test`/`expect`, a `create` factory, and the expected
 *   capabilities
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

  /** Runs `fn` with a fresh store and a unique namespace, closing the store afterwards. */
  const withStore = (fn: (store: Store<any>, ns: string) => Promise<void>) => async (): Promise<void> => {
    const store = await create()
    try {
      await fn(store, uniqueNamespace())
    } finally {
      await store.close?.()
    }
  }

  const caps = async (store: Store<any>): Promise<StoreCapabilities> => store.capabilities

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

  /** Decodes what a store returned to the live value. */
  const decoded = (store: Store<any>, entry: StoreEntry<any>): unknown =>
    store.kind === 'memory' ? entry.value : serializer.deserialize(entry.value as Uint8Array)

  const expectSame = (actual: unknown, expected: unknown, label: string): void => {
    expect(sameValue(actual, expected, label), label).toBeUndefined()
  }

  const has = async (store: Store<any>, key: string): Promise<boolean> => (await store.get(key)) !== undefined

  const title = options.name ?? 'store conformance'
  describe(title, () => {
    test(
      'declares a name, a kind and its capabilities',
      withStore(async (store) => {
        expect(typeof store.name).toBe('string')
        expect(store.name.length > 0).toBe(true)
        expect(store.kind === 'memory' || store.kind === 'remote').toBe(true)
        expect(typeof store.capabilities).toBe('object')
        for (const name of CAPABILITY_NAMES) {
          const declared = store.capabilities[name] === true
          if (declared)
            expect(typeof store[name], `capability ${name} is declared but not implemented`).toBe('function')
          if (options.capabilities) {
            expect(declared, `capability ${name}`).toBe(options.capabilities[name] === true)
          }
        }
      }),
      timeout,
    )

    test(
      'get of a missing key resolves undefined and does not throw',
      withStore(async (store, ns) => {
        expect(await store.get(`${ns}:missing`)).toBeUndefined()
      }),
      timeout,
    )

    const samples = valueSamples()
    test(
      'round-trips every value shape',
      withStore(async (store, ns) => {
        for (const [name, value] of Object.entries(samples)) {
          const key = `${ns}:value:${name}`
          const entry = entryFor(store, value)
          await store.set(key, entry)
          const got = await store.get(key)
          expect(got, `get after set of ${name}`).toBeDefined()
          if (store.kind === 'memory') {
            expect(got!.value, `memory stores keep the live value (${name})`).toBe(value)
          } else {
            const bytes = got!.value as Uint8Array
            expect(bytes instanceof Uint8Array, `remote stores return bytes (${name})`).toBe(true)
            expect(
              Buffer.from(bytes).equals(Buffer.from(entry.value as Uint8Array)),
              `bytes of ${name}`,
            ).toBe(true)
          }
          expectSame(decoded(store, got!), value, name)
        }
      }),
      timeout,
    )

    test(
      'preserves entry metadata exactly',
      withStore(async (store, ns) => {
        const now = Date.now()
        const cases: Omit<StoreEntry, 'value'>[] = [
          { createdAt: now - 5_000, freshUntil: now + 10_000, staleUntil: now + 70_000, tags: [] },
          {
            createdAt: now,
            freshUntil: now + 1,
            staleUntil: NEVER,
            tags: ['user:1', 'tag with space', 'ünï:🌍', '*?%_'],
          },
          { createdAt: now - 1, freshUntil: now - 1, staleUntil: now + 60_000, tags: ['stale-but-kept'] },
        ]
        for (const [i, meta] of cases.entries()) {
          const key = `${ns}:meta:${i}`
          await store.set(key, entryFor(store, { i }, meta))
          const got = await store.get(key)
          expect(got, `entry ${i}`).toBeDefined()
          expect(got!.createdAt, `createdAt ${i}`).toBe(meta.createdAt)
          expect(got!.freshUntil, `freshUntil ${i}`).toBe(meta.freshUntil)
          expect(got!.staleUntil, `staleUntil ${i}`).toBe(meta.staleUntil)
          expect([...got!.tags], `tags ${i}`).toEqual([...meta.tags])
          expectSame(decoded(store, got!), { i }, `value ${i}`)
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
        expectSame(decoded(store, got!), { second: true }, 'value')
        expect([...got!.tags]).toEqual(['b', 'c'])
        expect(got!.freshUntil).toBe(second.freshUntil)
      }),
      timeout,
    )

    test(
      'never returns an entry past its staleUntil (physical expiry)',
      withStore(async (store, ns) => {
        const past = `${ns}:expired`
        await store.set(
          past,
          entryFor(store, 'old', { staleUntil: Date.now() - 1, freshUntil: Date.now() - 10 }),
        )
        expect(await store.get(past), 'an entry written already expired').toBeUndefined()

        const soon = `${ns}:soon`
        const now = Date.now()
        await store.set(soon, entryFor(store, 'soon', { freshUntil: now, staleUntil: now + granularity * 3 }))
        expect(
          await has(store, soon),
          'present before staleUntil (freshness is not the store’s business)',
        ).toBe(true)
        await sleep(granularity * 5 + 20)
        expect(await store.get(soon), 'absent after staleUntil').toBeUndefined()
        if (store.capabilities.has) expect(await store.has!(soon), 'has() after staleUntil').toBe(false)
        if (store.capabilities.getMany) {
          const [one] = await store.getMany!([soon])
          expect(one, 'getMany after staleUntil').toBeUndefined()
        }
      }),
      timeout,
    )

    test(
      'delete removes a key and tolerates missing keys',
      withStore(async (store, ns) => {
        const key = `${ns}:del`
        await store.set(key, entryFor(store, 1))
        expect(await store.delete(key)).toBe(true)
        expect(await store.get(key)).toBeUndefined()
        const again = await store.delete(key)
        expect(typeof again).toBe('boolean')
        await store.delete(`${ns}:never-existed`)
      }),
      timeout,
    )

    test(
      'keys with special characters are stored and read literally',
      withStore(async (store, ns) => {
        const keys = [...TRICKY_KEY_PARTS.map((p) => `${ns}:${p}`), `${ns}:${'k'.repeat(900)}`]
        for (const [i, key] of keys.entries()) await store.set(key, entryFor(store, i))
        for (const [i, key] of keys.entries()) {
          const got = await store.get(key)
          expect(got, `key ${key.slice(0, 60)}`).toBeDefined()
          expectSame(decoded(store, got!), i, `value of ${key.slice(0, 60)}`)
        }
        // A lookalike key must not be found.
        expect(await store.get(`${ns}:star_key`)).toBeUndefined()
        expect(await store.get(`${ns}:percentXkey`)).toBeUndefined()
      }),
      timeout,
    )

    test(
      'clear(namespace) removes only that namespace; neighbours survive',
      withStore(async (store, ns) => {
        const target = `${ns}a`
        const inTarget = [`${target}:1`, `${target}:x:y`, `${target}:sub:deep:key`]
        const survivors = [`${ns}ab:1`, `${ns}b:1`, `${ns}:1`, `${ns}a-other:1`, `${target}x:1`]
        for (const key of [...inTarget, ...survivors]) await store.set(key, entryFor(store, key))
        await store.clear(target)
        for (const key of inTarget) expect(await store.get(key), `${key} cleared`).toBeUndefined()
        for (const key of survivors) expect(await has(store, key), `${key} survives`).toBe(true)
      }),
      timeout,
    )

    test(
      "clear('') removes every key the store holds",
      withStore(async (store, ns) => {
        const keys = [`${ns}:1`, `${ns}x:2`, `${ns}:a:b`]
        for (const key of keys) await store.set(key, entryFor(store, key))
        await store.clear('')
        for (const key of keys) expect(await store.get(key), key).toBeUndefined()
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
        expect(got).toBeDefined()
        const value = decoded(store, got!) as { writer: number; payload: string }
        const i = value.writer
        expect(value.payload).toBe('x'.repeat(i * 10))
        expect([...got!.tags], 'metadata belongs to the same write as the value').toEqual([`w${i}`])
        expect(got!.freshUntil).toBe(writes[i]!.freshUntil)
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
          expectSame(decoded(store, got!), value, '1 MiB value')
          return
        }
        const fits = entryFor(store, 'fits')
        const sized = (n: number): StoreEntry<any> =>
          store.kind === 'memory' ? { ...fits, size: n } : { ...fits, value: Buffer.alloc(n, 120), size: n }
        const atLimit = sized(limit)
        await store.set(key, atLimit)
        expect(await has(store, key), 'an entry of exactly maxEntryBytes is stored').toBe(true)
        const over = { ...sized(limit + 1), createdAt: atLimit.createdAt + 1 }
        let error: unknown
        try {
          await store.set(key, over)
        } catch (e) {
          error = e
        }
        expect(isTierCacheError(error, 'E_VALUE_TOO_LARGE'), 'refused with E_VALUE_TOO_LARGE').toBe(true)
        const kept = await store.get(key)
        expect(kept, 'the key keeps its previous entry').toBeDefined()
        expect(kept!.createdAt).toBe(atLimit.createdAt)
      }),
      timeout,
    )

    test(
      'has() reports presence (when declared)',
      withStore(async (store, ns) => {
        if (!(await caps(store)).has) return
        const key = `${ns}:has`
        expect(await store.has!(key)).toBe(false)
        await store.set(key, entryFor(store, 0))
        expect(await store.has!(key)).toBe(true)
        await store.delete(key)
        expect(await store.has!(key)).toBe(false)
      }),
      timeout,
    )

    test(
      'getMany / setMany / deleteMany (when declared) keep order and match single operations',
      withStore(async (store, ns) => {
        const c = await caps(store)
        const keys = Array.from({ length: 25 }, (_, i) => `${ns}:batch:${i}`)
        if (c.setMany) {
          await store.setMany!(
            keys.filter((_, i) => i % 2 === 0).map((k) => [k, entryFor(store, k)] as const),
          )
        } else {
          for (const k of keys.filter((_, i) => i % 2 === 0)) await store.set(k, entryFor(store, k))
        }
        for (const [i, k] of keys.entries()) expect(await has(store, k), k).toBe(i % 2 === 0)
        if (c.getMany) {
          const many = await store.getMany!(keys)
          expect(many.length).toBe(keys.length)
          for (const [i, k] of keys.entries()) {
            if (i % 2 === 0) expectSame(decoded(store, many[i]!), k, `getMany slot ${i}`)
            else expect(many[i], `getMany slot ${i}`).toBeUndefined()
          }
          expect((await store.getMany!([])).length).toBe(0)
        }
        if (c.deleteMany) {
          const n = await store.deleteMany!(keys.slice(0, 10))
          expect(n).toBeGreaterThanOrEqual(5)
          expect(n).toBeLessThanOrEqual(10)
          for (const k of keys.slice(0, 10)) expect(await store.get(k)).toBeUndefined()
          expect(await has(store, keys[10]!)).toBe(true)
          expect(await store.deleteMany!([])).toBe(0)
        }
      }),
      timeout,
    )

    test(
      'deleteByPattern (when declared): prefix boundaries, ? and literal special characters',
      withStore(async (store, ns) => {
        if (!(await caps(store)).deleteByPattern) return
        const all = [
          `${ns}:user:1`,
          `${ns}:user:22`,
          `${ns}:user:x:y`,
          `${ns}:users:1`,
          `${ns}:use:1`,
          `${ns}x:user:1`,
          `${ns}:user`,
          ...TRICKY_KEY_PARTS.map((p) => `${ns}:lit:${p}`),
          `${ns}:lit:starXkey`,
          `${ns}:lit:percentXkey`,
          `${ns}:lit:underXscore`,
          `${ns}:lit:bracketakey`,
        ]
        for (const k of all) await store.set(k, entryFor(store, k))
        const gone = async (keys: string[]): Promise<void> => {
          for (const k of keys) expect(await store.get(k), `${k} deleted`).toBeUndefined()
        }
        const alive = async (keys: string[]): Promise<void> => {
          for (const k of keys) expect(await has(store, k), `${k} survives`).toBe(true)
        }

        expect(await store.deleteByPattern!(`${ns}:user:*`)).toBe(3)
        await gone([`${ns}:user:1`, `${ns}:user:22`, `${ns}:user:x:y`])
        await alive([`${ns}:users:1`, `${ns}:use:1`, `${ns}x:user:1`, `${ns}:user`])

        expect(await store.deleteByPattern!(`${ns}:user?:1`)).toBe(1)
        await gone([`${ns}:users:1`])
        await alive([`${ns}:use:1`])

        // Each tricky key, escaped, deletes exactly itself.
        const literal = (s: string): string => s.replace(/[*?\\]/g, '\\$&')
        for (const part of TRICKY_KEY_PARTS) {
          const n = await store.deleteByPattern!(`${ns}:lit:${literal(part)}`)
          expect(n, `literal pattern for ${part}`).toBe(1)
        }
        await gone(TRICKY_KEY_PARTS.map((p) => `${ns}:lit:${p}`))
        await alive([
          `${ns}:lit:starXkey`,
          `${ns}:lit:percentXkey`,
          `${ns}:lit:underXscore`,
          `${ns}:lit:bracketakey`,
        ])

        expect(await store.deleteByPattern!(`${ns}:nothing:*`)).toBe(0)
        expect(await store.deleteByPattern!(`${ns}:*`)).toBe(6)
        await alive([`${ns}x:user:1`])
      }),
      timeout,
    )

    test(
      'stats() (when declared) reports numbers and booleans',
      withStore(async (store, ns) => {
        if (!(await caps(store)).stats) return
        await store.set(`${ns}:s`, entryFor(store, 's'))
        const stats = await store.stats!()
        for (const [k, v] of Object.entries(stats)) {
          const ok = k === 'connected' ? typeof v === 'boolean' : typeof v === 'number' && v >= 0
          expect(ok, `stats.${k} = ${String(v)}`).toBe(true)
        }
      }),
      timeout,
    )

    test(
      'close() can be called twice',
      async () => {
        const store = await create()
        await store.set(`${uniqueNamespace()}:c`, entryFor(store, 'c'))
        await store.close?.()
        await store.close?.()
      },
      timeout,
    )
  })
  runCoherenceSuite(options)
}
