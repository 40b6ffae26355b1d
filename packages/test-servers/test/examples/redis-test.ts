import { redisStore } from '@tiercache/store-redis'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, test } from 'vitest'

let server: RedisServer
beforeAll(async () => {
  server = await startRedis() // redis://127.0.0.1:<free port>
})
afterAll(() => server?.stop()) // always: stops the process, removes its directory

test('my store survives an outage', async () => {
  const store = redisStore({ url: server.url, commandTimeout: 300 })
  await server.kill() // SIGKILL: connections drop, data is gone
  // ... calls fail fast ...
  await server.restart() // same port, empty, waits until it answers PING
  server.pause() // SIGSTOP: connections stay open, nothing answers
  // ... calls time out ...
  server.resume() // SIGCONT
})
