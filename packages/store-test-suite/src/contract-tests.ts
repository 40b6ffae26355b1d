import { isTierCacheError, NEVER, type StoreEntry } from '@tiercache/core'
import { CAPABILITY_NAMES, type SuiteKit, settle, show, sleep } from './kit.js'
import { TRICKY_KEY_PARTS, valueSamples } from './samples.js'

/** The Store contract every store keeps: naming, kinds, entries, expiry, keys, namespaces, limits. */
export function contractTests(kit: SuiteKit): void {
  const {
    options,
    test,
    expect,
    create,
    granularity,
    timeout,
    callDeadline,
    withStore,
    entryFor,
    decoded,
    expectSame,
    present,
  } = kit
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
          expect(Object.is(got!.value, value), `a kind: 'memory' store keeps the live value (${name})`).toBe(
            true,
          )
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
        await store.set(key, entryFor(store, 'soon', { freshUntil: now, staleUntil: now + granularity * 3 }))
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
      for (const lookalike of [`${ns}:star_key`, `${ns}:percentXkey`, `${ns}:mixedcase`, `${ns}:trailing`]) {
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
      expect(got!.freshUntil, 'freshUntil belongs to the same write as the value').toBe(writes[i]!.freshUntil)
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
}
