/**
 * Warm restart across processes: instance A runs a Zipf workload against memory + Redis and
 * snapshots its hot keys; instance B starts with `warming.restore: true` and, after `ready()`,
 * its L1 hit ratio over its first 1,000 reads is at least 80% of A's steady-state L1 hit ratio.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { uniquePrefix } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { assertBuilt } from './instances.js'

const run = promisify(execFile)
const fixture = join(import.meta.dirname, 'fixtures', 'warm-restart.mjs')
let server: RedisServer

beforeAll(async () => {
  assertBuilt()
  server = await startRedis()
})
afterAll(async () => {
  await server?.stop()
})

async function instance(
  config: Record<string, unknown>,
): Promise<{ ratio: number; hotKeys?: number; restored?: number }> {
  const { stdout } = await run(process.execPath, [fixture], {
    env: { ...process.env, TC_WARM: JSON.stringify(config) },
    timeout: 120_000,
  })
  return JSON.parse(stdout.trim().split('\n').at(-1) as string)
}

test('B restored from A’s snapshot reaches at least 80% of A’s steady-state L1 hit ratio in its first 1,000 reads', async () => {
  const common = { url: server.url, prefix: uniquePrefix('warm'), keys: 5000, l1Entries: 1000 }
  const a = await instance({ ...common, role: 'A', warmupReads: 20_000, measuredReads: 20_000, seed: 1 })
  const b = await instance({ ...common, role: 'B', measuredReads: 1000, seed: 2 })
  expect(a.ratio).toBeGreaterThan(0.5)
  expect(a.hotKeys).toBeGreaterThan(100)
  expect(b.restored).toBeGreaterThan(100) // L1 was warmed before ready() resolved
  expect(b.ratio).toBeGreaterThanOrEqual(0.8 * a.ratio)

  // Control: the same first 1,000 reads without restore start from a cold L1.
  const cold = await instance({ ...common, role: 'B', measuredReads: 1000, seed: 2, restore: false })
  expect(cold.ratio).toBeLessThan(b.ratio)
}, 180_000)
