/**
 * The suite proves itself: a correct reference store passes every test, and each of 20 typical
 * mistakes, put into that store one at a time, fails the test that checks its rule. The list of
 * mistakes is the one in the README ("Mistakes it catches"); a test checks the two agree.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isTierCacheError, type Store, StoreError, ValueTooLargeError } from '@tiercache/core'
import { compilePattern, NEVER, type StoreCapabilities, type StoreEntry } from '@tiercache/core/store'
import { describe, expect, test } from 'vitest'
import { runStoreSuite } from '../src/index.js'

/** The mistakes, by id; each is a way a real store gets the contract wrong. */
type Mistake =
  | 'get-returns-expired'
  | 'has-ignores-expiry'
  | 'getMany-ignores-expiry'
  | 'clear-without-separator'
  | 'clear-all-escapes-prefix'
  | 'clear-all-deletes-nothing'
  | 'get-swallows-failures'
  | 'writes-swallow-failures'
  | 'failures-untyped'
  | 'kind-memory-for-bytes'
  | 'capability-without-method'
  | 'glob-as-regexp'
  | 'question-mark-is-utf16-unit'
  | 'pattern-count-wrong'
  | 'times-in-seconds'
  | 'never-expires-at-once'
  | 'tags-dropped'
  | 'keys-case-insensitive'
  | 'getMany-compacts'
  | 'too-large-erases-previous'

/** A shared backend (one Map, like one Redis database): each store keeps its keys under its own prefix. */
const backend = new Map<string, StoreEntry<Uint8Array>>()
let stores = 0

/** A correct remote store on the shared backend, or the same store with one mistake. */
function mapStore(
  mistake?: Mistake,
  options: { failing?: boolean; maxEntryBytes?: number } = {},
): Store<any> {
  const prefix = `s${stores++}:`
  const name = 'map'
  const flaw = (m: Mistake): boolean => mistake === m
  /** The backend's key: the store's prefix, then the key (folded, under the collation mistake). */
  const at = (key: string): string =>
    prefix + (flaw('keys-case-insensitive') ? key.toLowerCase().replace(/ +$/, '') : key)
  const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

  /** Every backend call: fails when the store was made failing, and hops a turn like real I/O. */
  const io = async <T>(operation: string, key: string | undefined, fn: () => T): Promise<T> => {
    await tick()
    if (!options.failing) return fn()
    const cause = new Error('connect ECONNREFUSED 127.0.0.1:1')
    if (flaw('failures-untyped')) throw cause
    throw new StoreError(`${name} ${operation} failed: ${cause.message}`, {
      store: name,
      operation,
      key,
      cause,
    })
  }
  const expired = (e: StoreEntry<Uint8Array>): boolean => e.staleUntil <= Date.now()
  const live = (key: string, ignoreExpiry = false): StoreEntry<Uint8Array> | undefined => {
    const e = backend.get(at(key))
    if (e === undefined) return undefined
    if (!ignoreExpiry && expired(e)) {
      backend.delete(at(key))
      return undefined
    }
    return e
  }
  const ownKeys = (): string[] =>
    [...backend.keys()].filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length))
  const store = (entry: StoreEntry<Uint8Array>): StoreEntry<Uint8Array> => {
    const seconds = (t: number): number => (flaw('times-in-seconds') ? Math.floor(t / 1000) * 1000 : t)
    return {
      value: Buffer.from(entry.value),
      createdAt: seconds(entry.createdAt),
      freshUntil: seconds(entry.freshUntil),
      staleUntil: flaw('never-expires-at-once') && entry.staleUntil === NEVER ? 0 : seconds(entry.staleUntil),
      tags: flaw('tags-dropped') ? [] : [...entry.tags],
    }
  }
  const write = async (key: string, entry: StoreEntry<Uint8Array>): Promise<void> => {
    const limit = options.maxEntryBytes
    if (limit !== undefined && entry.value.byteLength > limit) {
      if (flaw('too-large-erases-previous')) backend.delete(at(key))
      throw new ValueTooLargeError(entry.value.byteLength, limit, { store: name, operation: 'set', key })
    }
    backend.set(at(key), store(entry))
  }
  const matcher = (pattern: string): ((k: string) => boolean) => {
    if (flaw('glob-as-regexp')) {
      const re = new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`)
      return (k) => re.test(k)
    }
    if (flaw('question-mark-is-utf16-unit')) {
      // RegExp without the `u` flag: `.` is one UTF-16 code unit.
      const source = pattern
        .split(/(\\.|\*|\?)/)
        .map((part) =>
          part === '*'
            ? '[^]*'
            : part === '?'
              ? '[^]'
              : (part.startsWith('\\') && part.length === 2 ? part.slice(1) : part).replace(
                  /[.*+?^${}()|[\]\\/]/g,
                  '\\$&',
                ),
        )
        .join('')
      const re = new RegExp(`^${source}$`)
      return (k) => re.test(k)
    }
    return compilePattern(pattern)
  }

  const capabilities: StoreCapabilities = {
    getMany: true,
    setMany: true,
    deleteByPattern: true,
    has: true,
    close: true,
  }
  const s: Store<Uint8Array> & Record<string, unknown> = {
    name,
    kind: flaw('kind-memory-for-bytes') ? 'memory' : 'remote',
    scope: 'shared',
    capabilities: flaw('capability-without-method') ? { ...capabilities, deleteMany: true } : capabilities,
    ...(options.maxEntryBytes !== undefined ? { maxEntryBytes: options.maxEntryBytes } : {}),
    async get(key) {
      try {
        return await io('get', key, () => live(key, flaw('get-returns-expired')))
      } catch (error) {
        if (flaw('get-swallows-failures')) return undefined
        throw error
      }
    },
    async set(key, entry) {
      try {
        await io('set', key, () => undefined)
      } catch (error) {
        if (flaw('writes-swallow-failures')) return
        throw error
      }
      await write(key, entry)
    },
    async delete(key) {
      try {
        return await io('delete', key, () => backend.delete(at(key)))
      } catch (error) {
        if (flaw('writes-swallow-failures')) return false
        throw error
      }
    },
    async clear(namespace) {
      await io('clear', undefined, () => {
        if (namespace === '') {
          if (flaw('clear-all-deletes-nothing')) {
            for (const k of ownKeys()) if (k.startsWith(':')) backend.delete(prefix + k)
            return
          }
          if (flaw('clear-all-escapes-prefix')) backend.clear()
          else for (const k of ownKeys()) backend.delete(prefix + k)
          return
        }
        const start = flaw('clear-without-separator') ? namespace : `${namespace}:`
        for (const k of ownKeys()) if (k.startsWith(start)) backend.delete(prefix + k)
      })
    },
    async getMany(keys) {
      const found = await io('getMany', undefined, () =>
        keys.map((k) => live(k, flaw('getMany-ignores-expiry'))),
      )
      return flaw('getMany-compacts') ? found.filter((e) => e !== undefined) : found
    },
    async setMany(items) {
      await io('setMany', undefined, () => undefined)
      for (const [key, entry] of items) await write(key, entry)
    },
    async deleteByPattern(pattern) {
      return io('deleteByPattern', undefined, () => {
        const match = matcher(pattern)
        let n = 0
        for (const k of ownKeys()) {
          if (!match(k)) continue
          const e = backend.get(prefix + k) as StoreEntry<Uint8Array>
          backend.delete(prefix + k)
          if (!expired(e)) n++
        }
        return flaw('pattern-count-wrong') ? n + 1 : n
      })
    },
    async has(key) {
      return io('has', key, () => live(key, flaw('has-ignores-expiry')) !== undefined)
    },
    async close() {},
  }
  return s
}

runStoreSuite({
  describe,
  test,
  expect,
  create: () => mapStore(),
  failing: () => mapStore(undefined, { failing: true }),
  name: 'reference map store',
  ttlGranularity: 30,
})

runStoreSuite({
  describe,
  test,
  expect,
  create: () => mapStore(undefined, { maxEntryBytes: 4096 }),
  name: 'reference map store with maxEntryBytes',
  ttlGranularity: 30,
})

/** Runs the suite outside vitest's registry; returns each failing test's title and first message. */
async function failures(
  mistake: Mistake | undefined,
  options: { maxEntryBytes?: number } = {},
): Promise<Map<string, string>> {
  const tests: { name: string; fn: () => unknown }[] = []
  runStoreSuite({
    describe: (_name, fn) => fn(),
    test: (name, fn) => void tests.push({ name, fn }),
    expect,
    create: () => mapStore(mistake, options),
    failing: () => mapStore(mistake, { ...options, failing: true }),
    ttlGranularity: 30,
    timeout: 6000,
  })
  const failed = new Map<string, string>()
  for (const t of tests) {
    try {
      await t.fn()
    } catch (error) {
      failed.set(t.name, error instanceof Error ? error.message.split('\n')[0]! : String(error))
    }
  }
  expect(tests.length, 'the suite registered its tests').toBeGreaterThan(15)
  return failed
}

/** Each mistake, what it is, the test that must catch it, and words its failure message must hold. */
const MISTAKES: readonly { id: Mistake; what: string; test: string; says: string; maxEntryBytes?: number }[] =
  [
    {
      id: 'get-returns-expired',
      what: '`get()` returns entries past `staleUntil`',
      test: 'never returns an entry past its staleUntil',
      says: 'get()',
    },
    {
      id: 'has-ignores-expiry',
      what: '`has()` ignores `staleUntil`',
      test: 'never returns an entry past its staleUntil',
      says: 'has() after staleUntil',
    },
    {
      id: 'getMany-ignores-expiry',
      what: '`getMany()` ignores `staleUntil`',
      test: 'never returns an entry past its staleUntil',
      says: 'getMany() after staleUntil',
    },
    {
      id: 'clear-without-separator',
      what: "`clear('users')` also deletes `users2:…` (prefix without `:`)",
      test: 'clear(namespace) removes only that namespace',
      says: 'survives clear',
    },
    {
      id: 'clear-all-escapes-prefix',
      what: "`clear('')` deletes keys outside the store's prefix on a shared backend",
      test: "clear('') leaves the keys of another store",
      says: 'leaves the keys of another store',
    },
    {
      id: 'clear-all-deletes-nothing',
      what: "`clear('')` treated as the namespace `''` (deletes only `:…` keys)",
      test: "clear('') removes every key the store holds",
      says: "cleared by clear('')",
    },
    {
      id: 'get-swallows-failures',
      what: '`get()` answers a backend failure as a miss',
      test: 'failures reject with a StoreError',
      says: 'a failure swallowed',
    },
    {
      id: 'writes-swallow-failures',
      what: '`set()` / `delete()` resolve when the backend failed',
      test: 'failures reject with a StoreError',
      says: 'a failure swallowed',
    },
    {
      id: 'failures-untyped',
      what: 'failures thrown as the driver’s plain `Error`, not a `StoreError`',
      test: 'failures reject with a StoreError',
      says: 'rejects with a StoreError',
    },
    {
      id: 'kind-memory-for-bytes',
      what: "a bytes store declaring `kind: 'memory'`",
      test: 'kind matches what the store keeps',
      says: 'kind',
    },
    {
      id: 'capability-without-method',
      what: 'a capability declared without its method',
      test: 'declares a name, a kind and its capabilities',
      says: 'capability deleteMany is declared',
    },
    {
      id: 'glob-as-regexp',
      what: 'the glob handed to `RegExp` unescaped',
      test: 'deleteByPattern (when declared)',
      says: 'count of',
    },
    {
      id: 'question-mark-is-utf16-unit',
      what: '`?` matching one UTF-16 unit (or byte) instead of one character',
      test: 'deleteByPattern (when declared)',
      says: 'one emoji is one character',
    },
    {
      id: 'pattern-count-wrong',
      what: '`deleteByPattern()` resolving a wrong count',
      test: 'deleteByPattern (when declared)',
      says: 'count of',
    },
    {
      id: 'times-in-seconds',
      what: 'times kept in seconds (milliseconds lost)',
      test: 'preserves entry metadata exactly',
      says: 'to the millisecond',
    },
    {
      id: 'never-expires-at-once',
      what: '`staleUntil: NEVER` turned into an immediate expiry',
      test: 'preserves entry metadata exactly',
      says: 'NEVER',
    },
    {
      id: 'tags-dropped',
      what: 'tags not stored',
      test: 'preserves entry metadata exactly',
      says: 'tags of entry',
    },
    {
      id: 'keys-case-insensitive',
      what: 'keys compared without case or trailing spaces (a SQL key column with a `_ci` or `PAD SPACE` collation)',
      test: 'keys with special characters are stored and read literally',
      says: 'lookalike key',
    },
    {
      id: 'getMany-compacts',
      what: '`getMany()` dropping the slots of missing keys',
      test: 'getMany / setMany / deleteMany',
      says: 'one slot per key',
    },
    {
      id: 'too-large-erases-previous',
      what: 'a refused oversized entry erasing the key’s previous entry',
      test: 'values near the size limit',
      says: 'keeps its previous entry',
      maxEntryBytes: 4096,
    },
  ]

describe('the suite catches typical store mistakes', () => {
  test('the reference store passes every test, with and without maxEntryBytes', async () => {
    expect([...(await failures(undefined)).keys()]).toEqual([])
    expect([...(await failures(undefined, { maxEntryBytes: 4096 })).keys()]).toEqual([])
  }, 120_000)

  test.each(MISTAKES.map((m) => [m.id, m] as const))(
    '%s is caught, with a message that names the rule',
    async (_id, m) => {
      const failed = await failures(
        m.id,
        m.maxEntryBytes === undefined ? {} : { maxEntryBytes: m.maxEntryBytes },
      )
      const hit = [...failed.entries()].find(([name]) => name.startsWith(m.test))
      expect(
        hit,
        `${m.id} fails "${m.test}…" (failed: ${[...failed.keys()].join(' | ') || 'none'})`,
      ).toBeDefined()
      expect(hit![1], `the failure message of ${m.id}`).toContain(m.says)
    },
    120_000,
  )

  test('the README lists exactly these mistakes', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8')
    const section = readme.slice(readme.indexOf('## Mistakes it catches'))
    const listed = [...section.matchAll(/^\d+\. (.+?) \(`([a-zA-Z0-9-]+)`\)$/gm)].map((x) => [x[2], x[1]])
    expect(listed).toEqual(MISTAKES.map((m) => [m.id, m.what]))
  })

  test('without `failing`, the failure test is not registered', () => {
    const names: string[] = []
    runStoreSuite({
      describe: (_n, fn) => fn(),
      test: (name) => void names.push(name),
      expect,
      create: () => mapStore(),
    })
    expect(names.some((n) => n.startsWith('failures reject'))).toBe(false)
    expect(names.length).toBeGreaterThan(15)
  })

  test('isTierCacheError sees the reference failures as store failures', async () => {
    const store = mapStore(undefined, { failing: true })
    const error = await Promise.resolve(store.get('k')).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(isTierCacheError(error, 'E_STORE')).toBe(true)
  })
})
