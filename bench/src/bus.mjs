// Issue: multi-region. The stream bus against the pub/sub bus on loopback, side by side:
// - publish cost (one awaited `publish`, a subscriber listening on each bus);
// - propagation p50/p99: from the call to `publish` to the message handed to another instance's
//   handler, one message in flight at a time, the two buses interleaved in blocks of 100;
// - Redis memory per retained stream entry (MEMORY USAGE of a stream of 10,000 typical messages).
// Runs against its own redis-server.
import { redisBus } from '../../packages/store-redis/dist/index.js'
import { startRedis } from '../../packages/test-servers/dist/index.js'
import { machineLine, measure, report, save, target } from './lib.mjs'

const server = await startRedis()
const url = server.url
const prefix = `tc-busbench:${process.pid}:`
const now = () => performance.now()

function percentile(values, p) {
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

const message = (i) => ({
  instanceId: 'b8f0c3d2-9a41',
  namespace: 'app',
  type: 'delete',
  keys: [`users:${100000 + i}`],
})

async function pair(mode) {
  const options =
    mode === 'stream' ? { url, prefix: `${prefix}${mode}:`, mode } : { url, prefix: `${prefix}${mode}:` }
  const sender = redisBus(options)
  const receiver = redisBus(options)
  const waiting = new Map()
  await Promise.all([
    sender.subscribe({ message: () => {}, reconnected: () => {} }),
    receiver.subscribe({
      message: (m) => {
        const done = waiting.get(m.keys[0])
        if (done) {
          waiting.delete(m.keys[0])
          done(now())
        }
      },
      reconnected: () => {},
    }),
  ])
  return { sender, receiver, waiting }
}

const buses = { pubsub: await pair('pubsub'), stream: await pair('stream') }
const results = {}

// 1. Publish cost.
{
  let i = 0
  const contenders = Object.entries(buses).map(([mode, { sender }]) => ({
    name: `${mode} publish`,
    async: true,
    fn: () => sender.publish(message(i++ & 4095)),
  }))
  const r = await measure(contenders, { rounds: 9, roundMs: 200 })
  report('bus publish (awaited), a subscriber on each bus', r, 'pubsub publish')
  results.publish = r
}

// 2. Propagation, one message in flight.
{
  const delays = { pubsub: [], stream: [] }
  let seq = 0
  const BLOCKS = 20
  const PER_BLOCK = 100
  for (let b = 0; b < BLOCKS; b++) {
    const order = b % 2 === 0 ? ['pubsub', 'stream'] : ['stream', 'pubsub']
    for (const mode of order) {
      const { sender, waiting } = buses[mode]
      for (let k = 0; k < PER_BLOCK; k++) {
        const m = message(seq++)
        const arrived = new Promise((resolve) => waiting.set(m.keys[0], resolve))
        const start = now()
        await sender.publish(m)
        delays[mode].push((await arrived) - start)
      }
    }
  }
  console.log(`\n## propagation, one message in flight (${BLOCKS * PER_BLOCK} per bus)\n${machineLine()}\n`)
  console.log('| bus | p50 | p99 |')
  console.log('| --- | ---: | ---: |')
  const stats = {}
  for (const mode of ['pubsub', 'stream']) {
    stats[mode] = { p50: percentile(delays[mode], 50), p99: percentile(delays[mode], 99) }
    console.log(`| ${mode} | ${stats[mode].p50.toFixed(3)} ms | ${stats[mode].p99.toFixed(3)} ms |`)
  }
  results.propagation = stats
  // "≥ 1/1.5" of pub/sub's speed: stream p99 at most 1.5x pub/sub's.
  results.target = target(
    'stream propagation p99 vs pub/sub (speed)',
    stats.pubsub.p99 / stats.stream.p99,
    1 / 1.5,
  )
}

// 3. Memory per retained entry.
{
  const key = `{${prefix}mem}`
  const N = 10_000
  const { encodeBusMessage } = await import('../../packages/store-redis/dist/index.js')
  const payloads = {
    'delete of one key': (i) => encodeBusMessage(message(i)),
    'tags, 3 tags': (i) =>
      encodeBusMessage({
        instanceId: 'b8f0c3d2-9a41',
        namespace: 'app',
        type: 'tags',
        tags: [`user:${i}`, `org:${i % 100}`, 'profile'],
        at: Date.now(),
      }),
  }
  console.log(`\n## Redis memory per retained stream entry (${N} entries)\n`)
  console.log('| message | bytes of message | MEMORY USAGE / entry |')
  console.log('| --- | ---: | ---: |')
  results.memory = {}
  for (const [label, make] of Object.entries(payloads)) {
    await server.command('DEL', key)
    const batch = []
    for (let i = 0; i < N; i++) batch.push(['XADD', key, '*', 'm', make(i)])
    const { redisCommands } = await import('../../packages/test-servers/dist/index.js')
    for (let i = 0; i < batch.length; i += 1000) await redisCommands(server.target, batch.slice(i, i + 1000))
    const bytes = Number(await server.command('MEMORY', 'USAGE', key, 'SAMPLES', '0'))
    const perEntry = bytes / N
    results.memory[label] = { messageBytes: make(0).length, perEntry }
    console.log(`| ${label} | ${make(0).length} | ${perEntry.toFixed(1)} |`)
  }
  await server.command('DEL', key)
}

save('bus', results)
for (const { sender, receiver } of Object.values(buses)) await Promise.all([sender.close(), receiver.close()])
await server.stop()
