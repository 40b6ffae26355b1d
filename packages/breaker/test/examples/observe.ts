import { type BreakerState, withBreaker } from '@tiercache/breaker'
import { redisStore } from '@tiercache/store-redis'

const l2 = withBreaker(redisStore({ url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }))

// A gauge for dashboards: 0 closed, 1 half-open, 2 open.
const level: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2 }
let gauge = level[l2.state]
l2.on('state:change', (event) => {
  gauge = level[event.to]
})
l2.on('replay', (event) => {
  if (!event.ok) console.warn(`journal replay failed, ${event.remaining} intents kept`)
})

const { opened, rejections, timeouts } = l2.counters
console.log(gauge, opened, rejections, timeouts, l2.journalSize) // 0 0 0 0 0
await l2.close()
