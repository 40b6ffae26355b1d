import { once } from 'node:events'
import { join } from 'node:path'
import { createHttpCache, HEURISTIC_STATUSES } from '@tiercache/http'
import { originOf } from '@tiercache/test-kit/http'
import { checkReadme } from '@tiercache/test-kit/readme'
import { afterAll, expect, test } from 'vitest'
import { cache, homeChanged, server } from './examples/node-server.js'
import { search } from './examples/query-bounds.js'
import { rfcProfile } from './examples/rfc-profile.js'

afterAll(async () => {
  server.closeAllConnections()
  server.close()
  await cache.close()
})

test('the README shows the tested examples and the right install line', () => {
  checkReadme(join(import.meta.dirname, '..'))
})

test('the node:http example caches, and purges by URL and by tag', async () => {
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const origin = originOf(server)
  const first = await fetch(`${origin}/`)
  const body = await first.text()
  const second = await fetch(`${origin}/`)
  expect([first.headers.get('x-cache'), second.headers.get('x-cache'), await second.text()]).toEqual([
    'MISS',
    'HIT',
    body,
  ])
  expect(second.headers.get('cache-status')).toMatch(/^site; hit/)
  await homeChanged(origin)
  expect((await fetch(`${origin}/`)).headers.get('x-cache')).toBe('MISS')
})

test('the RFC profile and the query bounds are valid options', () => {
  const rfc = createHttpCache(cache, rfcProfile)
  expect(rfc.options.honorRequestNoCache).toBe(true)
  expect([...rfc.options.heuristicStatuses]).toEqual([...HEURISTIC_STATUSES])
  expect(search.options.maxQueryVariants).toBe(100)
  expect([...(search.options.queryAllow ?? [])]).toEqual(['q', 'page'])
})
