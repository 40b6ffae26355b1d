import { type SuiteKit, show } from './kit.js'
import { TRICKY_KEY_PARTS } from './samples.js'

/** The optional capabilities, each tested when the store declares it. */
export function capabilityTests(kit: SuiteKit): void {
  const { test, expect, timeout, withStore, caps, entryFor, decoded, expectSame, present } = kit
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
        for (const k of keys.slice(0, 10)) expect(await store.get(k), `${k} after deleteMany`).toBeUndefined()
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
      expect(await store.deleteByPattern!(pattern), `count of ${pattern} (one emoji is one character)`).toBe(
        1,
      )
      await gone([`${ns}:one:🌍`], pattern)
      await alive([`${ns}:one:ab`, `${ns}:one:`], pattern)

      pattern = `${ns}:case:*`
      expect(await store.deleteByPattern!(pattern), `count of ${pattern} (patterns are case-sensitive)`).toBe(
        0,
      )
      await alive([`${ns}:Case:1`], pattern)

      // Each tricky key, escaped, deletes exactly itself.
      const literal = (s: string): string => s.replace(/[*?\\]/g, '\\$&')
      for (const part of TRICKY_KEY_PARTS) {
        pattern = `${ns}:lit:${literal(part)}`
        expect(await store.deleteByPattern!(pattern), `count of the literal pattern ${show(pattern)}`).toBe(1)
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
}
