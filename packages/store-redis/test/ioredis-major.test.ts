// @ts-expect-error ioredis exports defaultOptions at run time; its declarations do not
import { defaultOptions } from 'ioredis'
import { expect, test } from 'vitest'

// The suite runs twice: on ioredis 5 (project store-redis) and on ioredis 6 (project
// store-redis-ioredis6, which maps `ioredis` to the `ioredis6` alias). This proves which one ran.
const expected = process.env.TIERCACHE_IOREDIS_MAJOR ?? '5'

test(`this run uses ioredis ${expected}`, () => {
  // ioredis 6 added the `protocol` option (RESP2 or RESP3); 5 does not have it.
  expect('protocol' in defaultOptions ? '6' : '5').toBe(expected)
})
