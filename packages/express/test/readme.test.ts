import { join } from 'node:path'
import { checkReadme } from '@tiercache/test-kit/readme'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { app, cache, productChanged } from './examples/shop.js'
import { listen } from './harness.js'

let server: Awaited<ReturnType<typeof listen>>
beforeAll(async () => {
  server = await listen(app)
})
afterAll(async () => {
  await server?.close()
  await cache.close()
})

test('the README shows the tested example and the right install line', () => {
  checkReadme(join(import.meta.dirname, '..'))
})

test('the README example caches per route and per router, and invalidates', async () => {
  const url = `${server.origin}/products/42`
  const cacheOf = async (u: string, method = 'GET') => (await fetch(u, { method })).headers.get('x-cache')
  expect([await cacheOf(url), await cacheOf(url)]).toEqual(['MISS', 'HIT'])
  await productChanged(server.origin, '42')
  expect(await cacheOf(url)).toBe('MISS')
  const stock = `${server.origin}/api/stock`
  expect([await cacheOf(stock), await cacheOf(stock)]).toEqual(['MISS', 'HIT'])
  expect((await fetch(stock, { method: 'DELETE' })).status).toBe(404)
})
