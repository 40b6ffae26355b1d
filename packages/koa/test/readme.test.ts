import { join } from 'node:path'
import { checkReadme } from '@tiercache/test-kit/readme'
import { afterAll, beforeAll, expect, test } from 'vitest'
import { app, cache } from './examples/shop.js'
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

test('the README example caches per route and per router; tags invalidate', async () => {
  const url = `${server.origin}/products/42`
  const get = async (u: string) => {
    const res = await fetch(u)
    return [res.headers.get('x-cache'), await res.text()]
  }
  const [first, body] = await get(url)
  expect(first).toBe('MISS')
  expect(await get(url)).toEqual(['HIT', body])
  expect(JSON.parse(body as string)).toEqual({ id: '42', name: 'Teapot', price: 12 })
  await cache.invalidateTags(['product:42'])
  expect((await get(url))[0]).toBe('MISS')
  const stock = `${server.origin}/api/stock`
  expect([(await get(stock))[0], (await get(stock))[0]]).toEqual(['MISS', 'HIT'])
})
