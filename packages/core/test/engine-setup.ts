/** The engine tests' cache: a memory L1 and two remote tiers (`redis`, `sql`) on a manual clock. */
import { localStore, remoteStore } from '@tiercache/test-kit'
import { createCache } from '../src/index.js'
import { ManualClock } from '../src/testing/index.js'

export function setup(
  opts: { l2Caps?: Record<string, boolean>; maxTtl?: number; strict?: boolean; l1Max?: number } = {},
) {
  const clock = new ManualClock()
  const l1 = localStore(clock, opts.l1Max)
  const l2 = remoteStore(clock, { name: 'redis', ...(opts.l2Caps ? { caps: opts.l2Caps } : {}) })
  const l3 = remoteStore(clock, { name: 'sql', ...(opts.maxTtl ? {} : {}) })
  const cache = createCache({
    namespace: 'app',
    tiers: [l1, l2, l3],
    clock,
    ttl: '1m',
    strict: opts.strict ?? false,
  })
  return { clock, l1, l2, l3, cache }
}
