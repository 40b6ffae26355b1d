/**
 * Hostile input through every public method of the cache, on memory only and on memory + Redis +
 * SQLite (issue 16). Each run clears the fuzzed namespace, applies a sequence of operations with
 * hostile keys, values, durations, tags, patterns and namespace names, and checks after every
 * operation what `support/ops.ts` describes; after the run, the sentinels in the other namespaces
 * must be intact in every tier.
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type Harness, memoryHarness, tieredHarness } from './support/harness.js'
import { anyValueGen, opArb } from './support/op-arbitraries.js'
import { World } from './support/ops.js'
import { check } from './support/settings.js'

const configurations: [string, () => Promise<Harness>, { sequences: number; values: number }][] = [
  ['memory only', memoryHarness, { sequences: 400, values: 150 }],
  ['memory + Redis + SQLite', tieredHarness, { sequences: 200, values: 60 }],
]

for (const [index, [name, make, runs]] of configurations.entries()) {
  describe(`hostile input: ${name}`, () => {
    let h: Harness
    // One world per cache: it remembers every key an accepted call wrote, across properties.
    let world: World
    beforeAll(async () => {
      h = await make()
      world = new World(h)
      await h.writeSentinels()
      expect(await h.checkSentinels()).toEqual([])
    })
    afterAll(async () => {
      await h?.close()
    })

    test('operation sequences: typed refusals store nothing, accepted writes read back from every tier, sentinels survive', async () => {
      await check(
        10 + index,
        runs.sequences,
        [fc.array(opArb, { minLength: 1, maxLength: 10 })],
        async (ops) => {
          world.violations.length = 0
          await world.reset()
          for (const op of ops) await world.run(op)
          world.violations.push(...(await h.checkSentinels()))
          expect(world.violations, 'violations').toEqual([])
        },
      )
    })

    test('every claimed value type (and huge ones) reads back equal from every tier; refused values store nothing', async () => {
      await check(
        20 + index,
        runs.values,
        [anyValueGen, fc.constantFrom('v', 'w:1', '🌍')],
        async (value, key) => {
          world.violations.length = 0
          await world.reset()
          await world.run({ op: 'set', key, value, options: { form: 'none' } })
          await world.run({ op: 'get', key })
          await world.run({
            op: 'getOrSet',
            key: `${key}:lazy`,
            value,
            options: { form: 'object', ttl: '1h', tags: ['t1'] },
          })
          expect(world.violations, 'violations').toEqual([])
        },
      )
      expect(await h.checkSentinels()).toEqual([])
    })
  })
}
