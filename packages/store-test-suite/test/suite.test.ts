import type { Store, StoreCapabilities, StoreEntry } from '@tiercache/core'
import { compilePattern } from '@tiercache/core'
import { describe, expect, test } from 'vitest'
import { runStoreSuite } from '../src/index.js'

/** A correct reference store on a Map, used to prove the suite passes a good store. */
function mapStore(
  flaws: { ignoreNamespaceInClear?: boolean; returnsExpired?: boolean; globAsRegex?: boolean } = {},
) {
  const map = new Map<string, StoreEntry<Uint8Array>>()
  const live = (key: string) => {
    const e = map.get(key)
    if (!e) return undefined
    if (!flaws.returnsExpired && e.staleUntil <= Date.now()) {
      map.delete(key)
      return undefined
    }
    return e
  }
  const capabilities: StoreCapabilities = { getMany: true, deleteByPattern: true, has: true, close: true }
  const store: Store<Uint8Array> = {
    name: 'map',
    kind: 'remote',
    scope: 'shared',
    capabilities,
    get: async (key) => live(key),
    set: async (key, entry) => {
      map.set(key, { ...entry, value: Buffer.from(entry.value) })
    },
    delete: async (key) => map.delete(key),
    clear: async (ns) => {
      for (const k of [...map.keys()])
        if (flaws.ignoreNamespaceInClear || !ns || k.startsWith(`${ns}:`)) map.delete(k)
    },
    getMany: async (keys) => keys.map(live),
    deleteByPattern: async (pattern) => {
      // The flawed variant treats the glob as a regular expression source, like a naive translation.
      const match = flaws.globAsRegex
        ? (
            (re: RegExp) => (k: string) =>
              re.test(k)
          )(new RegExp(`^${pattern.replace(/\*/g, '.*').replace(/\?/g, '.')}$`))
        : compilePattern(pattern)
      let n = 0
      for (const k of [...map.keys()]) if (live(k) && match(k) && map.delete(k)) n++
      return n
    },
    has: async (key) => live(key) !== undefined,
    close: async () => {},
  }
  return store
}

runStoreSuite({
  describe,
  test,
  expect,
  create: () => mapStore(),
  name: 'reference map store',
  ttlGranularity: 30,
})

/** Runs the suite against a store outside vitest's registry and returns the titles of failing tests. */
async function failingTests(create: () => Store<any>): Promise<string[]> {
  const tests: { name: string; fn: () => unknown }[] = []
  runStoreSuite({
    describe: (_name, fn) => fn(),
    test: (name, fn) => void tests.push({ name, fn }),
    expect,
    create,
    ttlGranularity: 30,
  })
  const failed: string[] = []
  for (const t of tests) {
    try {
      await t.fn()
    } catch {
      failed.push(t.name)
    }
  }
  expect(tests.length).toBeGreaterThan(10)
  return failed
}

describe('the suite rejects broken stores', () => {
  test('a store whose clear() ignores the namespace fails the namespace test', async () => {
    const failed = await failingTests(() => mapStore({ ignoreNamespaceInClear: true }))
    expect(failed).toEqual(['clear(namespace) removes only that namespace; neighbours survive'])
  })

  test('a store that returns expired entries fails the expiry test', async () => {
    const failed = await failingTests(() => mapStore({ returnsExpired: true }))
    expect(failed).toContain('never returns an entry past its staleUntil (physical expiry)')
  })

  test('a store that translates globs naively fails the pattern test', async () => {
    const failed = await failingTests(() => mapStore({ globAsRegex: true }))
    expect(failed).toEqual([
      'deleteByPattern (when declared): prefix boundaries, ? and literal special characters',
    ])
  })

  test('a store that lies about its capabilities fails the declaration test', async () => {
    const failed = await failingTests(() => ({ ...mapStore(), capabilities: { setMany: true } }))
    expect(failed).toContain('declares a name, a kind and its capabilities')
  })

  test('the reference store passes every test', async () => {
    expect(await failingTests(() => mapStore())).toEqual([])
  })
})
