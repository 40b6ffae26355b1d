import { isTierCacheError } from '@tiercache/core'
import { STORE_FAILURE_CODES, type SuiteKit, settle, show, uniqueNamespace } from './kit.js'

/** Failures (with the `failing` factory) and `close()`. */
export function lifecycleTests(kit: SuiteKit): void {
  const { options, test, expect, create, timeout, callDeadline, caps, entryFor } = kit
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
      expect(first.ok, `the first close() resolves (${first.ok === false ? String(first.error) : ''})`).toBe(
        true,
      )
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
}
