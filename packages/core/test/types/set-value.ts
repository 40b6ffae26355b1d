// Compiled by test/types.test.ts: every line marked @ts-expect-error must fail to compile, and
// everything else must compile.
import { type Cache, cached, createCache } from '../../src/index.js'

declare const cache: Cache
declare const maybe: string | undefined
declare const anything: unknown

await cache.set('user:1', { name: 'Ada' })
await cache.set('null is a value', null)
await cache.set('ttl', 1, 3600)
// @ts-expect-error undefined is never cached: set(k, undefined) does not compile
await cache.set('k', undefined)
// @ts-expect-error a possibly-undefined value must be narrowed first
await cache.set('k', maybe)
if (maybe !== undefined) await cache.set('k', maybe)
// @ts-expect-error an unknown value must be narrowed or asserted
await cache.set('k', anything)
await cache.set('k', anything as object)

const load = cache.wrap('user_profile', async (id: string) => ({ id }))
const key: string = load.key('123')
await load.invalidate('123')
// @ts-expect-error key() takes the wrapped function's arguments
load.key(123)

const plain = cached('plan', 300)(async (id: string) => id.length)
const n: number = await plain('42')
await plain.invalidate('42')
createCache({ tiers: [], timeUnit: 's' })
// @ts-expect-error timeUnit is 'ms' or 's'
createCache({ tiers: [], timeUnit: 'min' })

export { key, n }
