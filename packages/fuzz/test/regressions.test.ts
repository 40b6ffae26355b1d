/**
 * The findings of issue 16, each replayed on the real memory + Redis + SQLite cache (and the
 * differential backends for patterns), so each stays fixed whatever the fuzzer draws.
 */
import { escapePattern, isTierCacheError } from '@tiercache/core'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { deepSame } from './support/compare.js'
import { type Harness, tieredHarness } from './support/harness.js'

let h: Harness
beforeAll(async () => {
  h = await tieredHarness()
  await h.writeSentinels()
})
afterAll(async () => {
  await h?.close()
})

async function rejection(fn: () => Promise<unknown>): Promise<unknown> {
  return fn().then(
    () => undefined,
    (error: unknown) => error,
  )
}

/** The value of `rel` in each tier read alone (`missing` when absent). */
async function tiers(rel: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {}
  for (const tier of h.tiers) {
    const got = await tier.read(h.root, rel)
    out[tier.level] = got.found ? got.value : 'missing'
  }
  return out
}

describe('issue 16 regressions on memory + Redis + SQLite', () => {
  test('1. a pattern with a dash deletes exactly its keys in every tier', async () => {
    const ns = h.cache.namespace('dash')
    for (const k of ['user-1', 'user-2', 'user-10', 'a-1', 'user1']) await ns.set(k, k)
    expect(await ns.deleteByPattern('*-1')).toBe(2)
    expect(await ns.deleteByPattern('user-?')).toBe(1)
    for (const k of ['user-1', 'a-1', 'user-2']) {
      expect(await tiers(`dash:${k}`), k).toEqual({
        l1_memory: 'missing',
        l2_redis: 'missing',
        l3_sql: 'missing',
      })
    }
    for (const k of ['user-10', 'user1']) {
      expect(await tiers(`dash:${k}`), k).toEqual({ l1_memory: k, l2_redis: k, l3_sql: k })
    }
  })

  test('2. a lone surrogate is refused everywhere, so it never shares an entry with U+FFFD', async () => {
    const ns = h.cache.namespace('utf16')
    await ns.set('a\uFFFD', 'replacement character')
    for (const call of [
      () => ns.set('a\uD800', 'lone'),
      () => ns.get('a\uD800'),
      () => ns.delete('a\uD800'),
      () => ns.getOrSet('a\uD800', () => 'lone'),
    ]) {
      expect(isTierCacheError(await rejection(call), 'E_INVALID_KEY')).toBe(true)
    }
    expect(
      isTierCacheError(
        await rejection(() => ns.deleteByPattern(escapePattern('a\uD800'))),
        'E_INVALID_PATTERN',
      ),
    ).toBe(true)
    expect(
      isTierCacheError(await rejection(() => ns.set('k', 1, { tags: ['t\uDC00'] })), 'E_INVALID_OPTION'),
    ).toBe(true)
    expect(await tiers('utf16:a\uFFFD')).toEqual({
      l1_memory: 'replacement character',
      l2_redis: 'replacement character',
      l3_sql: 'replacement character',
    })
    expect(isTierCacheError(await rejection(() => ns.set('nul\u0000', 1)), 'E_INVALID_KEY')).toBe(true)
  })

  test('3. an own __proto__ key reads back from every tier, on the tagged path too', async () => {
    const value = JSON.parse('{"__proto__": {"x": 1}, "plain": true}') as Record<string, unknown>
    value.when = new Date(7)
    await h.cache.set('proto', value)
    const got = await tiers('proto')
    for (const [level, v] of Object.entries(got)) {
      expect(deepSame(v, value), level).toBeUndefined()
      expect(Object.hasOwn(v as object, '__proto__'), level).toBe(true)
    }
  })

  test('4. 20,000 levels of nesting are refused with E_SERIALIZE and nothing is stored', async () => {
    let deep: unknown[] = [1]
    for (let i = 1; i < 20_000; i++) deep = [deep]
    expect(isTierCacheError(await rejection(() => h.cache.set('deep', deep)), 'E_SERIALIZE')).toBe(true)
    expect(await tiers('deep')).toEqual({ l1_memory: 'missing', l2_redis: 'missing', l3_sql: 'missing' })
  })

  test('the sentinels beside these namespaces are intact', async () => {
    expect(await h.checkSentinels()).toEqual([])
  })
})
