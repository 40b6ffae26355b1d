/**
 * The coherence model (see coherence-model.ts) on real backends: three instances, each with
 * memory + the shared Redis + its own SQLite file, and a variant with PostgreSQL as the shared
 * SQL tier. Fixed seeds, so a failure replays; `COHERENCE_RUNS` raises the number of runs for
 * local soak runs. A deliberately broken engine variant must fail the same check.
 */
import { join } from 'node:path'
import { KyselyStore, kyselyStore } from '@tiercache/fallback-kysely'
import { RedisStore } from '@tiercache/store-redis'
import { uniqueName } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Fence } from '../../core/src/engine/fence.js'
import { FlightTable } from '../../core/src/engine/flights.js'
import { runModel, type SqlTier } from './coherence-model.js'
import { type Step, steps } from './coherence-steps.js'

const RUNS = Number(process.env.COHERENCE_RUNS ?? 4)
const LENGTH = Number(process.env.COHERENCE_STEPS ?? 30)
const POSTGRES_URL = process.env.POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis()
})
afterAll(async () => {
  await server?.stop()
})

const sqlite: SqlTier = (i, run) => kyselyStore({ sqlite: join(run.dir, `instance-${i}.db`) })
const postgres: SqlTier = (_i, run) =>
  kyselyStore({ postgres: POSTGRES_URL }, { table: `tc_model_${run.id}`.slice(0, 40), poolSize: 2 })

async function check(sql: SqlTier, seed: number, runs = RUNS, length = LENGTH, instances = 3): Promise<void> {
  await fc.assert(
    fc.asyncProperty(steps(instances, length), async (run: Step[]) => {
      const violations = await runModel(server, sql, run, uniqueName('model'), instances)
      expect(violations).toEqual([])
    }),
    { seed, numRuns: runs, endOnFailure: true },
  )
}

describe('coherence across three instances (memory + shared Redis + local SQLite each)', () => {
  test('no read returns a superseded value, no tier keeps one', async () => {
    await check(sqlite, 1401)
  }, 300_000)
})

describe('coherence on one instance (memory + Redis + SQLite)', () => {
  test('no read returns a superseded value, no tier keeps one', async () => {
    await check(sqlite, 1400, RUNS, LENGTH, 1)
  }, 300_000)
})

describe('a load racing another instance’s delete (deterministic)', () => {
  test('its result never lands in a shared tier after the delete', async () => {
    for (const sql of [sqlite, postgres]) {
      for (const [by, on] of [
        [0, 1],
        [2, 0],
      ] as const) {
        const run: Step[] = [{ kind: 'racedLoad', by, on, key: 'b:2' }]
        expect(await runModel(server, sql, run, uniqueName('raced'))).toEqual([])
      }
    }
  }, 120_000)
})

describe('coherence across three instances with PostgreSQL as the shared L3', () => {
  test('no read returns a superseded value, no tier keeps one', async () => {
    await check(postgres, 1402)
  }, 300_000)
})

/** Replaces `object[name]` with `make(original)`; returns the function that restores it. */
function patch<T extends object>(object: T, name: string, make: (original: any) => unknown): () => void {
  const original = (object as any)[name]
  ;(object as any)[name] = make(original)
  return () => {
    ;(object as any)[name] = original
  }
}

/**
 * Engine variants with one coherence mechanism removed. Each must produce violations on the same
 * model, on a scenario that needs that mechanism (fixed steps, no timing luck): the check bites.
 */
describe('the model catches a broken engine', () => {
  /** A cached key, another instance's invalidation, Redis losing its data, then a read. */
  const missedInvalidation: Step[] = [
    { kind: 'warm', reads: [{ on: 1, key: 'a:1', op: 'getOrSet', at: 1, delay: 0 }] },
    { kind: 'invalidate', by: 0, key: 'a:1', lead: 0, reads: [] },
    { kind: 'redisLoss', by: 0, key: 'a:1' },
    { kind: 'warm', reads: [{ on: 1, key: 'a:1', op: 'get', at: 1, delay: 0 }] },
  ]
  /** A read that starts once a pattern delete has cleared L1 but not yet reached the shared tiers. */
  const overlappingRead: Step[] = [
    { kind: 'warm', reads: [{ on: 0, key: 'a:1', op: 'getOrSet', at: 1, delay: 0 }] },
    {
      kind: 'pattern',
      by: 0,
      group: 'a',
      lead: 0,
      reads: [{ on: 0, key: 'a:1', op: 'get', at: 1, delay: 0 }],
    },
    { kind: 'warm', reads: [{ on: 0, key: 'a:1', op: 'peek', at: 1, delay: 0 }] },
  ]

  test('the scenarios pass on the engine as it is', async () => {
    expect(await runModel(server, sqlite, missedInvalidation, uniqueName('ok'))).toEqual([])
    expect(await runModel(server, postgres, overlappingRead, uniqueName('ok'))).toEqual([])
  }, 60_000)

  test('per-instance SQLite files treated as shared (bus messages reach L1 only, as before tier scopes)', async () => {
    const asShared: SqlTier = (i, run) =>
      kyselyStore({ sqlite: join(run.dir, `instance-${i}.db`) }, { scope: 'shared' })
    expect(await runModel(server, asShared, missedInvalidation, uniqueName('broken'))).not.toEqual([])
  }, 300_000)

  test('no write fence: reads and loads that overlap an invalidation write back what they read', async () => {
    const restore = [
      patch(Fence.prototype, 'allows', () => () => true),
      patch(Fence.prototype, 'activeCovers', () => () => false),
      patch(
        FlightTable.prototype,
        'start',
        (original) =>
          function (this: unknown, ...args: unknown[]) {
            const flight = original.apply(this, args)
            Object.defineProperty(flight, 'invalidated', { get: () => false, set: () => {} })
            return flight
          },
      ),
    ]
    try {
      expect(await runModel(server, postgres, overlappingRead, uniqueName('broken'))).not.toEqual([])
    } finally {
      for (const r of restore) r()
    }
  }, 300_000)

  test('conditional writes that ignore their condition: a load resurrects across instances', async () => {
    const raced: Step[] = [{ kind: 'racedLoad', by: 0, on: 1, key: 'a:1' }]
    const blind = (original: any) =>
      async function (this: { set(k: string, e: unknown): Promise<void> }, key: string, entry: unknown) {
        void original
        await this.set(key, entry)
        return true
      }
    const restore = [
      patch(RedisStore.prototype, 'conditionalSet', blind),
      patch(KyselyStore.prototype, 'conditionalSet', blind),
    ]
    try {
      expect(await runModel(server, postgres, raced, uniqueName('broken'))).not.toEqual([])
      expect(await runModel(server, sqlite, raced, uniqueName('broken'))).not.toEqual([])
    } finally {
      for (const r of restore) r()
    }
  }, 300_000)
})
