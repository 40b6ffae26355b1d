/**
 * The behaviour scenarios over real HTTP that every adapter runs (express, koa, the http package
 * on a bare node:http server, and any third-party adapter): on the memory tier and on memory +
 * Redis, then across two instances sharing Redis.
 *
 * @module
 */
import type { Cache } from '@tiercache/core'
import { afterAll, beforeAll, describe } from 'vitest'
import { type Harness, makeCache, SkewClock, type TestServer, type TierKind } from '../harness.js'
import { freshnessScenarios } from './freshness.js'
import { requestScenarios } from './requests.js'
import { responseScenarios } from './responses.js'

export { runDistributedScenarios } from './distributed.js'

/**
 * Registers every single-instance scenario for one adapter, once per tier kind.
 *
 * @param harness - starts the adapter's server
 * @param kinds - tier kinds to run on, default memory and memory + Redis
 */
export function runScenarios(
  harness: Harness,
  kinds: readonly TierKind[] = ['memory', 'memory+redis'],
): void {
  describe.each(kinds)(`${harness.name} over %s`, (kind) => {
    const ctx: { clock: SkewClock; cache: Cache; srv: TestServer } = {
      clock: new SkewClock(),
      cache: undefined as unknown as Cache,
      srv: undefined as unknown as TestServer,
    }
    beforeAll(async () => {
      ctx.cache = makeCache(kind, ctx.clock).cache
      ctx.srv = await harness.start(ctx.cache, { clock: ctx.clock })
    })
    afterAll(async () => {
      await ctx.srv?.close()
      await ctx.cache?.close()
    })
    requestScenarios(ctx)
    freshnessScenarios(ctx)
    responseScenarios(ctx)
  })
}
