/**
 * Behaviour beyond the conformance suite, on every backend: case-sensitive keys and patterns,
 * literal special characters, size limits, batches, expiry and pruning (with a manual clock),
 * and migrations run twice or concurrently.
 */
import { isTierCacheError, StoreError, ValueTooLargeError } from '@tiercache/core'
import { NEVER } from '@tiercache/core/store'
import { ManualClock } from '@tiercache/core/testing'
import { uniqueTable } from '@tiercache/test-kit'
import { afterAll, describe, expect, test, vi } from 'vitest'
import type { KyselyStore } from '../src/index.js'
import { type Backend, backends, entry, text } from './helpers.js'

const all = backends()
afterAll(async () => {
  for (const b of all) await b.cleanup()
})

describe.each(all.map((b) => [b.name, b] as const))('%s', (_name, backend: Backend) => {
  const withStore =
    (fn: (store: KyselyStore, table: string) => Promise<void>, options = {}) =>
    async (): Promise<void> => {
      const table = uniqueTable()
      const store = backend.open(table, { maxEntryBytes: 4096, ...options })
      try {
        await fn(store, table)
      } finally {
        await store.close()
      }
    }

  test(
    'keys are case-sensitive in get, has, getMany, delete, clear and patterns',
    withStore(async (store) => {
      await store.set('ns:User:1', entry('upper'))
      await store.set('ns:user:1', entry('lower'))
      await store.set('NS:user:1', entry('other namespace'))
      expect(text(await store.get('ns:User:1'))).toBe('upper')
      expect(text(await store.get('ns:user:1'))).toBe('lower')
      expect(await store.get('ns:USER:1')).toBeUndefined()
      expect(await store.has('ns:USER:1')).toBe(false)
      expect((await store.getMany(['ns:USER:1', 'ns:user:1'])).map(text)).toEqual([undefined, 'lower'])

      expect(await store.deleteByPattern('ns:User:*')).toBe(1)
      expect(await store.get('ns:User:1')).toBeUndefined()
      expect(text(await store.get('ns:user:1'))).toBe('lower')
      expect(await store.deleteByPattern('ns:?SER:1')).toBe(0)
      expect(await store.deleteByPattern('ns:?ser:1')).toBe(1)

      await store.set('ns:user:2', entry('lower'))
      await store.clear('NS')
      expect(await store.get('NS:user:1')).toBeUndefined()
      expect(text(await store.get('ns:user:2'))).toBe('lower')
      expect(await store.delete('ns:USER:2')).toBe(false)
      expect(await store.delete('ns:user:2')).toBe(true)
    }),
  )

  test(
    'keys with % _ \\ ! quotes and unicode are stored and matched literally',
    withStore(async (store) => {
      const keys = [
        'ns:100%',
        'ns:100%off',
        'ns:a_b',
        'ns:back\\slash',
        'ns:bang!x',
        "ns:it's",
        'ns:say "hi"',
        'ns:ünï-日本-🌍',
        'ns:[x]',
        'ns:*',
        'ns:?',
      ]
      const lookalikes = [
        'ns:1000',
        'ns:100Xoff',
        'ns:axb',
        'ns:backXslash',
        'ns:bangXx',
        'ns:x',
        'ns:un-日本-🌍',
      ]
      for (const k of [...keys, ...lookalikes]) await store.set(k, entry(k))
      for (const k of keys) expect(text(await store.get(k)), k).toBe(k)

      // Literal patterns delete exactly their key.
      const literal = (s: string): string => s.replace(/[*?\\]/g, '\\$&')
      for (const k of keys) expect(await store.deleteByPattern(literal(k)), k).toBe(1)
      for (const k of lookalikes) expect(text(await store.get(k)), `${k} survives`).toBe(k)

      // LIKE/GLOB specials inside a wildcard pattern stay literal.
      for (const k of keys) await store.set(k, entry(k))
      expect(await store.deleteByPattern('ns:100%*')).toBe(2)
      expect(await store.deleteByPattern('ns:a_*')).toBe(1)
      expect(await store.deleteByPattern('ns:back\\\\*')).toBe(1)
      expect(await store.deleteByPattern('ns:bang!*')).toBe(1)
      expect(await store.deleteByPattern('ns:[*')).toBe(1)
      expect(await store.deleteByPattern('ns:????-日本-🌍')).toBe(0)
      expect(await store.deleteByPattern('ns:?nï-日本-?')).toBe(1)
      for (const k of lookalikes) expect(text(await store.get(k)), `${k} survives`).toBe(k)
    }),
  )

  test(
    'patterns with no literal prefix and ? in the middle work (full scan)',
    withStore(async (store) => {
      for (const k of ['a:x:1', 'b:x:1', 'b:y:1', 'c:x:22']) await store.set(k, entry(k))
      expect(await store.deleteByPattern('*:x:?')).toBe(2)
      expect(text(await store.get('b:y:1'))).toBe('b:y:1')
      expect(text(await store.get('c:x:22'))).toBe('c:x:22')
    }),
  )

  test(
    'a value above maxEntryBytes is refused with a typed error and the key keeps its entry',
    withStore(async (store) => {
      await store.set('ns:big', entry('small'))
      const tooBig = { ...entry(''), value: Buffer.alloc(4097, 1) }
      let error: unknown
      try {
        await store.set('ns:big', tooBig)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(ValueTooLargeError)
      expect(isTierCacheError(error, 'E_VALUE_TOO_LARGE')).toBe(true)
      expect(error).toMatchObject({ size: 4097, limit: 4096, store: 'sql', operation: 'set', key: 'ns:big' })
      expect(text(await store.get('ns:big'))).toBe('small')

      // setMany checks every entry first: nothing of the batch is written.
      expect(() => store.setMany([['ns:a', entry('a')] as const, ['ns:big', tooBig] as const])).toThrow(
        ValueTooLargeError,
      )
      expect(await store.get('ns:a')).toBeUndefined()
      expect(text(await store.get('ns:big'))).toBe('small')
    }),
  )

  test(
    'setMany with duplicate keys keeps the last, deletes already-expired entries, and spans chunks',
    withStore(
      async (store) => {
        await store.set('ns:old', entry('old'))
        const past = Date.now() - 1
        await store.setMany([
          ['ns:d', entry('first')],
          ['ns:old', entry('gone', { freshUntil: past, staleUntil: past })],
          ['ns:d', entry('second')],
        ])
        expect(text(await store.get('ns:d'))).toBe('second')
        expect(await store.get('ns:old')).toBeUndefined()

        const many = Array.from({ length: 1200 }, (_, i) => [`ns:many:${i}`, entry(`v${i}`)] as const)
        await store.setMany(many)
        const keys = [...many.map(([k]) => k), 'ns:missing']
        const got = await store.getMany(keys)
        expect(got.length).toBe(1201)
        expect(got.slice(0, 1200).every((e, i) => text(e) === `v${i}`)).toBe(true)
        expect(got[1200]).toBeUndefined()
        expect(await store.deleteMany(keys)).toBe(1200)
        expect(await store.deleteByPattern('ns:many:*')).toBe(0)
      },
      { maxEntryBytes: 1024 * 1024 },
    ),
  )

  test(
    'NEVER and metadata survive; empty values and many tags round-trip',
    withStore(async (store) => {
      const tags = Array.from({ length: 50 }, (_, i) => `tag:${i}:ü`)
      await store.set('ns:never', { ...entry(''), staleUntil: NEVER, freshUntil: NEVER, tags })
      const got = await store.get('ns:never')
      expect(got?.staleUntil).toBe(NEVER)
      expect(got?.freshUntil).toBe(NEVER)
      expect(got?.value.byteLength).toBe(0)
      expect([...(got?.tags ?? [])]).toEqual(tags)
    }),
  )

  test('expired rows are hidden at once and pruned in batches by prune()', async () => {
    const clock = new ManualClock(Date.now())
    const table = uniqueTable()
    const store = backend.open(table, { clock, pruneInterval: 0 })
    try {
      const t0 = clock.now()
      for (let i = 0; i < 7; i++) {
        await store.set(`ns:e:${i}`, entry(`e${i}`, { freshUntil: t0 + 5, staleUntil: t0 + 10 }))
      }
      await store.set('ns:keep', entry('keep', { freshUntil: t0 + 5, staleUntil: t0 + 60_000 }))
      expect(text(await store.get('ns:e:0'))).toBe('e0')
      clock.set(t0 + 10)
      expect(await store.get('ns:e:0')).toBeUndefined()
      expect(await store.has('ns:e:0')).toBe(false)
      expect((await store.getMany(['ns:e:1', 'ns:keep'])).map(text)).toEqual([undefined, 'keep'])
      expect((await store.stats()).entries).toBe(1)
      expect(await backend.countRows(table)).toBe(8)

      expect(await store.prune({ batchSize: 3 })).toBe(7)
      expect(await backend.countRows(table)).toBe(1)
      expect(await store.prune()).toBe(0)
      expect(text(await store.get('ns:keep'))).toBe('keep')
    } finally {
      await store.close()
    }
  })

  test('the prune timer deletes expired rows on its interval', async () => {
    const clock = new ManualClock(Date.now())
    const table = uniqueTable()
    const store = backend.open(table, { clock, pruneInterval: '30s' })
    try {
      const t0 = clock.now()
      await store.set('ns:short', entry('short', { freshUntil: t0 + 1, staleUntil: t0 + 1000 }))
      await store.set('ns:long', entry('long', { freshUntil: t0 + 1, staleUntil: t0 + 3_600_000 }))
      expect(clock.pendingTimers).toBe(1)
      await clock.advance(29_000)
      expect(await backend.countRows(table)).toBe(2)
      await clock.advance(1_000)
      await vi.waitFor(async () => expect(await backend.countRows(table)).toBe(1), { timeout: 5000 })
      expect(text(await store.get('ns:long'))).toBe('long')
      // The timer is armed again after each run, and stopped by close().
      await vi.waitFor(() => expect(clock.pendingTimers).toBe(1), { timeout: 5000 })
      await store.close()
      expect(clock.pendingTimers).toBe(0)
    } finally {
      await store.close()
    }
  })

  test('migrations are idempotent: run twice, and by two stores at once on one table', async () => {
    const table = uniqueTable()
    const a = backend.open(table, { migrate: false })
    try {
      await a.migrate()
      await a.migrate()
      await a.set('ns:k', entry('v'))
      expect(text(await a.get('ns:k'))).toBe('v')
    } finally {
      await a.close()
    }
    if (backend.name === 'SQLite :memory:') return // a :memory: database is private to its connection

    const shared = uniqueTable()
    const stores = [backend.open(shared), backend.open(shared), backend.open(shared)]
    try {
      await Promise.all(stores.map((s) => s.migrate()))
      await Promise.all(stores.map((s, i) => s.set(`ns:${i}`, entry(`v${i}`))))
      for (const s of stores) {
        expect((await s.getMany(['ns:0', 'ns:1', 'ns:2'])).map(text)).toEqual(['v0', 'v1', 'v2'])
      }
      expect(await backend.countRows(`${shared}_migrations`)).toBe(1)
    } finally {
      for (const s of stores) await s.close()
    }
  })

  test(
    'driver errors become StoreError with store, operation, key and cause',
    withStore(async (store, table) => {
      await store.set('ns:k', entry('v'))
      await backend.dropTable(table) // behind the store's back
      let error: unknown
      try {
        await store.get('ns:k')
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(StoreError)
      expect(error).toMatchObject({ code: 'E_STORE', store: 'sql', operation: 'get', key: 'ns:k' })
      expect((error as Error).cause).toBeInstanceOf(Error)
      expect((await store.stats()).errors).toBeGreaterThanOrEqual(1)
    }),
  )
})
