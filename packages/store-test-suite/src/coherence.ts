import type { Store, StoreEntry } from '@tiercache/core'
import { sleep, suiteKit } from './kit.js'
import type { StoreSuiteOptions } from './options.js'

/**
 * Registers the conformance tests of what coherence across instances needs from a store: the
 * `scope` declaration, and, for stores declaring `conditionalSet`, leases and conditional writes
 * (placeholders invisible to reads, removed by every delete, replaced by every write; writes that
 * land only while the placeholder or the entry they expect is still there). Called by
 * `runStoreSuite`.
 *
 * @param options - the same options as `runStoreSuite`
 */
export function runCoherenceSuite(options: StoreSuiteOptions): void {
  const { describe } = options
  const { test, expect, serializer, granularity, timeout, withStore } = suiteKit(options)

  const entryFor = (store: Store<any>, value: unknown, createdAt = Date.now()): StoreEntry<any> => {
    const bytes = serializer.serialize(value)
    return {
      value: store.kind === 'memory' ? value : bytes,
      createdAt,
      freshUntil: createdAt + 60_000,
      staleUntil: createdAt + 120_000,
      tags: [],
      size: bytes.byteLength,
    }
  }

  const liveValue = (store: Store<any>, entry: StoreEntry<any> | undefined): unknown =>
    entry === undefined
      ? undefined
      : store.kind === 'memory'
        ? entry.value
        : serializer.deserialize(entry.value as Uint8Array)

  /** Runs `fn` only for stores that declare `conditionalSet`. */
  const leasing =
    (fn: (store: Store<any>, ns: string) => Promise<void>) =>
    async (store: Store<any>, ns: string): Promise<void> => {
      if (store.capabilities.conditionalSet !== true) return
      expect(typeof store.lease, 'conditionalSet is declared: lease() must exist').toBe('function')
      expect(typeof store.conditionalSet, 'conditionalSet is declared: conditionalSet() must exist').toBe(
        'function',
      )
      await fn(store, ns)
    }

  describe(`${options.name ?? 'store conformance'}: coherence`, () => {
    test(
      "declares its scope: 'local' (one process or host) or 'shared' (every instance)",
      withStore(async (store) => {
        expect(store.scope === 'local' || store.scope === 'shared', `scope is ${String(store.scope)}`).toBe(
          true,
        )
        if (options.capabilities) {
          expect(store.capabilities.conditionalSet === true, 'capability conditionalSet').toBe(
            options.capabilities.conditionalSet === true,
          )
        }
      }),
      timeout,
    )

    test(
      'a lease placeholder is invisible to get, getMany and has; a later lease replaces it; an entry refuses it',
      withStore(
        leasing(async (store, ns) => {
          const key = `${ns}:leased`
          expect(await store.lease!(key, 'a', 60_000), 'lease on a missing key').toBe(true)
          expect(await store.get(key), 'get of a leased key').toBeUndefined()
          if (store.getMany)
            expect(await store.getMany([key]), 'getMany of a leased key').toEqual([undefined])
          if (store.has) expect(await store.has(key), 'has of a leased key').toBe(false)
          expect(await store.lease!(key, 'b', 60_000), 'a second lease on the key replaces the first').toBe(
            true,
          )
          expect(
            await store.conditionalSet!(key, entryFor(store, 'x'), { lease: 'a' }),
            'a write on the replaced lease',
          ).toBe(false)
          expect(
            await store.conditionalSet!(key, entryFor(store, 'x'), { lease: 'b' }),
            'a write on the newer lease',
          ).toBe(true)
          await store.set(`${ns}:live`, entryFor(store, 'v'))
          expect(await store.lease!(`${ns}:live`, 'c', 60_000), 'lease on a key holding an entry').toBe(false)
          expect(liveValue(store, await store.get(`${ns}:live`)), 'the entry stays').toBe('v')
        }),
      ),
      timeout,
    )

    test(
      'conditionalSet lands on its own live placeholder only',
      withStore(
        leasing(async (store, ns) => {
          const key = `${ns}:k`
          expect(
            await store.conditionalSet!(key, entryFor(store, 'x'), { lease: 'none' }),
            'no placeholder',
          ).toBe(false)
          expect(await store.get(key), 'nothing written without a placeholder').toBeUndefined()
          await store.lease!(key, 'mine', 60_000)
          expect(
            await store.conditionalSet!(key, entryFor(store, 'x'), { lease: 'other' }),
            'wrong token',
          ).toBe(false)
          expect(
            await store.conditionalSet!(key, entryFor(store, 'v1'), { lease: 'mine' }),
            'own token',
          ).toBe(true)
          expect(liveValue(store, await store.get(key)), 'the written value').toBe('v1')
          expect(
            await store.conditionalSet!(key, entryFor(store, 'v2'), { lease: 'mine' }),
            'token used twice',
          ).toBe(false)
          expect(liveValue(store, await store.get(key)), 'unchanged by a failed write').toBe('v1')
        }),
      ),
      timeout,
    )

    test(
      'delete, deleteMany, deleteByPattern and clear remove placeholders; set and setMany replace them',
      withStore(
        leasing(async (store, ns) => {
          const lost = async (key: string, label: string, mutate: () => Promise<unknown>): Promise<void> => {
            expect(await store.lease!(key, 't', 60_000), `lease before ${label}`).toBe(true)
            await mutate()
            expect(
              await store.conditionalSet!(key, entryFor(store, 'late'), { lease: 't' }),
              `write after ${label}`,
            ).toBe(false)
          }
          await lost(`${ns}:a`, 'delete', () => Promise.resolve(store.delete(`${ns}:a`)))
          if (store.deleteMany)
            await lost(`${ns}:b`, 'deleteMany', () => Promise.resolve(store.deleteMany!([`${ns}:b`])))
          if (store.deleteByPattern) {
            await lost(`${ns}:c1`, 'deleteByPattern', () =>
              Promise.resolve(store.deleteByPattern!(`${ns}:c*`)),
            )
          }
          await lost(`${ns}:d`, 'clear', () => Promise.resolve(store.clear(ns)))
          await lost(`${ns}:e`, 'set', () => Promise.resolve(store.set(`${ns}:e`, entryFor(store, 'newer'))))
          expect(liveValue(store, await store.get(`${ns}:e`)), 'the set value stays').toBe('newer')
          if (store.setMany) {
            await lost(`${ns}:f`, 'setMany', () =>
              Promise.resolve(store.setMany!([[`${ns}:f`, entryFor(store, 'newer')]])),
            )
            expect(liveValue(store, await store.get(`${ns}:f`)), 'the setMany value stays').toBe('newer')
          }
        }),
      ),
      timeout,
    )

    test(
      'conditionalSet on { createdAt } lands only while that very entry is there',
      withStore(
        leasing(async (store, ns) => {
          const key = `${ns}:c`
          const t = Date.now() - 1000
          await store.set(key, entryFor(store, 'old', t))
          expect(
            await store.conditionalSet!(key, entryFor(store, 'x'), { createdAt: t + 1 }),
            'other createdAt',
          ).toBe(false)
          expect(
            await store.conditionalSet!(key, entryFor(store, 'new'), { createdAt: t }),
            'same createdAt',
          ).toBe(true)
          expect(liveValue(store, await store.get(key))).toBe('new')
          await store.delete(key)
          expect(
            await store.conditionalSet!(key, entryFor(store, 'late'), { createdAt: t }),
            'after delete',
          ).toBe(false)
          expect(await store.get(key), 'nothing resurrected').toBeUndefined()
        }),
      ),
      timeout,
    )

    test(
      'conditionalSet of an expired entry deletes the key, under the same condition (a released lease)',
      withStore(
        leasing(async (store, ns) => {
          const key = `${ns}:released`
          const expired = { ...entryFor(store, 'gone', Date.now() - 10_000), freshUntil: 1, staleUntil: 2 }
          expect(await store.lease!(key, 'r', 60_000)).toBe(true)
          expect(await store.conditionalSet!(key, expired, { lease: 'other' }), 'another token').toBe(false)
          expect(await store.conditionalSet!(key, expired, { lease: 'r' }), 'its own token').toBe(true)
          expect(await store.lease!(key, 's', 60_000), 'the key is free again').toBe(true)
          const t = Date.now() - 1000
          await store.set(`${ns}:e`, entryFor(store, 'v', t))
          expect(
            await store.conditionalSet!(`${ns}:e`, expired, { createdAt: t + 1 }),
            'other createdAt',
          ).toBe(false)
          expect(liveValue(store, await store.get(`${ns}:e`)), 'kept').toBe('v')
          expect(await store.conditionalSet!(`${ns}:e`, expired, { createdAt: t }), 'same createdAt').toBe(
            true,
          )
          expect(await store.get(`${ns}:e`), 'deleted').toBeUndefined()
        }),
      ),
      timeout,
    )

    test(
      'a lease expires after its ttl',
      withStore(
        leasing(async (store, ns) => {
          const key = `${ns}:ttl`
          expect(await store.lease!(key, 'a', 3 * granularity)).toBe(true)
          await sleep(5 * granularity + 20)
          expect(
            await store.conditionalSet!(key, entryFor(store, 'x'), { lease: 'a' }),
            'expired lease',
          ).toBe(false)
          expect(await store.lease!(key, 'b', 60_000), 'a new lease after expiry').toBe(true)
        }),
      ),
      timeout,
    )
  })
}
