/**
 * The coherence model (see coherence-model.ts) on real backends: three instances, each with
 * memory + the shared Redis + its own SQLite file, and a variant with PostgreSQL as the shared
 * SQL tier. Fixed seeds, so a failure replays; `COHERENCE_RUNS` raises the number of runs for
 * local soak runs. A deliberately broken engine variant must fail the same check.
 */
import { join } from 'node:path'
import { KyselyStore, kyselyStore } from '@tiercache/fallback-kysely'
import { RedisStore } from '@tiercache/store-redis'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { Fence } from '../../core/src/engine/fence.js'
import { FlightTable } from '../../core/src/engine/flights.js'
import { runModel, type SqlTier, type Step, steps } from './coherence-model.js'
import { uniqueNamespace } from './helpers.js'

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

async function check(sql: SqlTier, seed: number, runs = RUNS, length = LENGTH): Promise<void> {
  await fc.assert(
    fc.asyncProperty(steps(3, length), async (run: Step[]) => {
      const violations = await runModel(server, sql, run, uniqueNamespace('model'))
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
 * model (fixed seeds): the check bites.
 */
describe('the model catches a broken engine', () => {
  /** Runs seeds until one run reports violations; resolves how many seeds it took (0: none did). */
  async function firstViolation(sql: SqlTier, seeds: readonly number[]): Promise<number> {
    for (const [i, seed] of seeds.entries()) {
      const [run] = fc.sample(steps(3, LENGTH), { seed, numRuns: 1 })
      const violations = await runModel(server, sql, run as Step[], uniqueNamespace('broken'))
      if (violations.length > 0) return i + 1
    }
    return 0
  }

  test('per-instance SQLite files treated as shared (bus messages reach L1 only, as before tier scopes)', async () => {
    const asShared: SqlTier = (i, run) =>
      kyselyStore({ sqlite: join(run.dir, `instance-${i}.db`) }, { scope: 'shared' })
    expect(await firstViolation(asShared, [9001, 9002, 9003, 9004, 9005, 9006])).toBeGreaterThan(0)
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
      expect(await firstViolation(postgres, [9101, 9102, 9103, 9104, 9105, 9106])).toBeGreaterThan(0)
    } finally {
      for (const r of restore) r()
    }
  }, 300_000)

  test('conditional writes that ignore their condition: back-fills and loads resurrect across instances', async () => {
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
      expect(
        await firstViolation(postgres, [9201, 9202, 9203, 9204, 9205, 9206, 9207, 9208, 9209, 9210]),
      ).toBeGreaterThan(0)
    } finally {
      for (const r of restore) r()
    }
  }, 300_000)
})
