/**
 * A Sentinel failover under load: a private master + replica + 3 Sentinels, two cache instances
 * (L1 memory + L2 Redis behind the breaker + bus + lock, all through Sentinel), a steady mixed
 * load from both, and the master SIGKILLed. No cache call may fail; L2, the bus and the lock must
 * follow the promoted replica; once it settles, no reader may see a value its writer replaced.
 */
import { announceReplays, type BreakerStore, withBreaker } from '@tiercache/breaker'
import { type Cache, createCache, type Duration } from '@tiercache/core'
import { memoryStore } from '@tiercache/store-memory'
import { type RedisBus, type RedisLock, redisBus, redisLock, redisStore } from '@tiercache/store-redis'
import { uniqueName, waitFor } from '@tiercache/test-kit'
import {
  type RedisSentinel,
  type RedisServer,
  redisCommand,
  startRedis,
  startRedisSentinel,
} from '@tiercache/test-servers'
import { afterAll, beforeAll, expect, test } from 'vitest'

const NAME = 'failover'
let master: RedisServer
let replica: RedisServer
let sentinels: RedisSentinel[] = []

function info(text: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of String(text).split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/** The port each Sentinel names as the master. */
async function masterPorts(): Promise<number[]> {
  return Promise.all(
    sentinels.map(async (s) => {
      const addr = (await redisCommand(
        { port: s.port, timeout: 1000 },
        'SENTINEL',
        'GET-MASTER-ADDR-BY-NAME',
        NAME,
      )) as string[] | null
      return Number(addr?.[1])
    }),
  )
}

beforeAll(async () => {
  master = await startRedis()
  replica = await startRedis({ args: ['--replicaof', '127.0.0.1', String(master.port)] })
  await waitFor(
    async () => info(await replica.command('INFO', 'replication')).master_link_status === 'up',
    20_000,
    'the replica to sync',
  )
  sentinels = await Promise.all(
    [0, 1, 2].map(() =>
      startRedisSentinel({ master, name: NAME, quorum: 2, downAfter: 1000, failoverTimeout: 5000 }),
    ),
  )
  // Before a failover can happen each Sentinel must know the replica and its two peers.
  await waitFor(
    async () => {
      for (const s of sentinels) {
        const target = { port: s.port, timeout: 1000 }
        const replicas = (await redisCommand(target, 'SENTINEL', 'REPLICAS', NAME)) as unknown[]
        const peers = (await redisCommand(target, 'SENTINEL', 'SENTINELS', NAME)) as unknown[]
        if (replicas.length !== 1 || peers.length !== 2) return false
      }
      return true
    },
    30_000,
    'the Sentinels to know the replica and each other',
  )
})

afterAll(async () => {
  await Promise.all(sentinels.map((s) => s.stop()))
  await Promise.all([master?.stop(), replica?.stop()])
})

interface Instance {
  readonly label: string
  readonly cache: Cache
  readonly breaker: BreakerStore
  readonly bus: RedisBus
  readonly lock: RedisLock
  readonly flushes: { reason: string; at: number }[]
  readonly errors: unknown[]
}

function makeInstance(label: string, prefix: string, namespace: string, resetTimeout: Duration): Instance {
  const connection = {
    sentinel: { sentinels: sentinels.map((s) => ({ host: s.host, port: s.port })), name: NAME },
    prefix,
    commandTimeout: 500,
  }
  const breaker = withBreaker(redisStore(connection), {
    failureThreshold: 5,
    resetTimeout,
    callTimeout: '250ms',
  })
  const bus = redisBus(connection)
  const lock = redisLock(connection)
  const cache = createCache({
    namespace,
    tiers: [memoryStore({ maxBytes: 2 ** 22 }), breaker],
    bus,
    lock,
    ttl: '1h',
  })
  // As createDistributedCache does: after a journal replay, the other instances flush again.
  announceReplays(breaker, bus, namespace)
  const flushes: { reason: string; at: number }[] = []
  const errors: unknown[] = []
  cache.on('flush', (e) => flushes.push({ reason: e.reason, at: Date.now() }))
  cache.on('error', (e) => errors.push(e))
  return { label, cache, breaker, bus, lock, flushes, errors }
}

const KEYS = 20

test('SIGKILL of the master: no failed call; L2, bus and lock follow the promoted replica', async () => {
  const prefix = `tc-failover:${uniqueName('p')}:`
  const namespace = 'app'
  // The breakers reopen at different times (as they do when two instances see the outage at
  // different moments): b reads Redis again while a's writes of the outage are still journaled.
  const a = makeInstance('a', prefix, namespace, '3s')
  const b = makeInstance('b', prefix, namespace, '500ms')
  const instances = [a, b]
  const failures: { label: string; op: string; error: unknown }[] = []
  /**
   * Per owned key, the writer's last acknowledged state: the version written, or deleted after
   * it. A reader that started after the acknowledgement should not see an older version.
   */
  const last = new Map<string, { version: number; deleted: boolean; at: number }>()
  /** Reads that returned a version older than one acknowledged before the read started. */
  const staleReads: { reader: string; key: string; at: number }[] = []
  const loads = { count: 0 }
  let running = true
  let ops = 0

  const call = async (inst: Instance, op: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      await fn()
    } catch (error) {
      failures.push({ label: inst.label, op, error })
    }
    ops++
  }
  const pause = (): Promise<void> => new Promise((r) => setTimeout(r, 2))

  // One writer per instance sets and deletes only its own keys (`<label>:<n>`, one version
  // counter, writes in sequence), so every acknowledged state is known.
  const writer = async (inst: Instance): Promise<void> => {
    let version = 0
    while (running) {
      const key = `${inst.label}:${Math.floor(Math.random() * KEYS)}`
      if (Math.random() < 0.75) {
        const v = ++version
        await call(inst, 'set', async () => {
          await inst.cache.set(key, { v })
          last.set(key, { version: v, deleted: false, at: Date.now() })
        })
      } else {
        const v = version
        await call(inst, 'delete', async () => {
          await inst.cache.delete(key)
          last.set(key, { version: v, deleted: true, at: Date.now() })
        })
      }
      await pause()
    }
  }
  // Readers read both instances' keys and getOrSet shared `g:<n>` keys (loader calls counted).
  const reader = async (inst: Instance, other: Instance): Promise<void> => {
    while (running) {
      const n = Math.floor(Math.random() * KEYS)
      if (Math.random() < 0.25) {
        await call(inst, 'getOrSet', () =>
          inst.cache.getOrSet(`g:${n}`, () => {
            loads.count++
            return { loaded: n }
          }),
        )
      } else {
        const key = `${Math.random() < 0.5 ? inst.label : other.label}:${n}`
        const known = last.get(key)
        await call(inst, 'get', async () => {
          const v = (await inst.cache.get<{ v: number }>(key))?.v
          if (known && v !== undefined && (v < known.version || (v === known.version && known.deleted))) {
            staleReads.push({ reader: inst.label, key, at: Date.now() })
          }
        })
      }
      await pause()
    }
  }

  try {
    await Promise.all(instances.map((i) => i.cache.ready()))
    await waitFor(() => a.bus.stats().connected && b.bus.stats().connected, 10_000, 'both buses subscribed')
    const workers = [writer(a), writer(b), reader(a, b), reader(b, a), reader(a, b), reader(b, a)]
    await waitFor(() => ops > 400, 20_000, 'load before the kill')

    const killedAt = Date.now()
    await master.kill()
    await waitFor(
      async () => (await masterPorts()).every((p) => p === replica.port),
      60_000,
      'every Sentinel to name the replica as the master',
    )
    const promotedAt = Date.now()
    await waitFor(
      async () => info(await replica.command('INFO', 'replication')).role === 'master',
      10_000,
      'the replica to be a master',
    )

    // The bus of each instance resubscribes on the new master (and asks for an L1 flush).
    await waitFor(
      () => instances.every((i) => i.bus.stats().connected && i.flushes.some((f) => f.at > killedAt)),
      60_000,
      'both buses to resubscribe on the new master',
    )
    // L2 follows: writes through each instance land on the new master.
    for (const inst of instances) {
      await waitFor(
        async () => {
          await inst.cache.set(`after:${inst.label}`, 'written after the failover')
          return (await replica.command('EXISTS', `${prefix}${namespace}:after:${inst.label}`)) === 1
        },
        60_000,
        `${inst.label}'s writes to reach the new master`,
      )
    }
    const recoveredAt = Date.now()
    const opsAtRecovery = ops
    await waitFor(() => ops > opsAtRecovery + 200, 20_000, 'load after the failover')
    running = false
    await Promise.all(workers)

    // Settle: both breakers closed with empty journals, both bus queues empty.
    await waitFor(
      () =>
        instances.every(
          (i) => i.breaker.state === 'closed' && i.breaker.journalSize === 0 && i.bus.stats().queued === 0,
        ),
      30_000,
      'breakers closed, journals replayed, bus queues drained',
    )

    expect(failures.map((f) => `${f.label} ${f.op}: ${String(f.error)}`)).toEqual([])

    const settledAt = Date.now()

    // Once settled, no reader sees a value its writer replaced or deleted. The one exception
    // Redis itself allows is a write the old master acknowledged but had not yet sent to the
    // replica when it died (replication is asynchronous): reported, and only possible for a key
    // last written before the kill.
    const stale: string[] = []
    const lostInReplication: string[] = []
    for (const [key, state] of last) {
      for (const reader of instances) {
        const v = (await reader.cache.get<{ v: number }>(key))?.v
        if (v === undefined || (v === state.version && !state.deleted)) continue
        const line = `${reader.label} reads ${key}=${v}, last ${state.deleted ? 'deleted after' : 'written'} ${state.version} ${state.at - killedAt} ms after the kill`
        if (state.at < killedAt) lostInReplication.push(line)
        else stale.push(line)
      }
    }
    expect(stale).toEqual([])

    // The bus follows: an invalidation published now reaches the other instance.
    await a.cache.set('bus:1', 'one')
    expect(await b.cache.get('bus:1')).toBe('one')
    // L1 admits a key on its second read.
    await waitFor(
      async () => (await b.cache.get('bus:1')) === 'one' && b.cache.peek('bus:1') === 'one',
      10_000,
      'b to keep a copy in L1',
    )
    const received = b.bus.stats().received
    await a.cache.set('bus:1', 'two')
    await waitFor(() => b.cache.peek('bus:1') === undefined, 10_000, 'b to drop its copy')
    expect(b.bus.stats().received).toBeGreaterThan(received)
    expect(await b.cache.get('bus:1')).toBe('two')

    // The lock follows: taken on the new master, exclusive, released.
    const handle = await a.lock.acquire('after', { ttl: 10_000, wait: 0 })
    expect(handle).toBeDefined()
    expect(await replica.command('EXISTS', `${prefix}__lock:after`)).toBe(1)
    expect(await b.lock.acquire('after', { ttl: 10_000, wait: 0 })).toBeUndefined()
    await handle?.release()
    const second = await b.lock.acquire('after', { ttl: 10_000, wait: 0 })
    expect(second).toBeDefined()
    await second?.release()

    const flushAfter = instances.map((i) => (i.flushes.find((f) => f.at > killedAt)?.at ?? 0) - killedAt)
    const during = staleReads.filter((r) => r.at >= killedAt)
    console.log(
      `sentinel failover: ${ops} calls, 0 failed, ${loads.count} loads, ${a.errors.length + b.errors.length} L2 error events; ` +
        `promoted ${promotedAt - killedAt} ms after the kill, buses resubscribed (L1 flush) ${flushAfter.join(' / ')} ms after, ` +
        `writes on the new master ${recoveredAt - killedAt} ms after, settled ${settledAt - killedAt} ms after; ` +
        `stale reads: ${staleReads.length - during.length} before the kill, ${during.length} after it` +
        (during.length > 0
          ? ` (last ${Math.max(...during.map((r) => r.at)) - killedAt} ms after the kill)`
          : '') +
        `; lost in replication: ${lostInReplication.length ? lostInReplication.join('; ') : 'none'}`,
    )
  } finally {
    running = false
    await Promise.all(instances.map((i) => i.cache.close()))
  }
}, 120_000)

/** Flat `[field, value, …]` replies of `SENTINEL REPLICAS` as objects. */
function fields(reply: unknown): Record<string, string>[] {
  return (reply as string[][]).map((flat) => {
    const out: Record<string, string> = {}
    for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i] as string] = flat[i + 1] as string
    return out
  })
}

test('SENTINEL FAILOVER while both servers run: the demoted master stays up, every connection leaves it', async () => {
  // Whichever server is the master now (the replica, after the test above) is demoted; the
  // other one (the killed master, restarted empty: Sentinel makes it a replica) is promoted.
  const current = (await masterPorts())[0]
  const demoted = current === master.port ? master : replica
  const promoted = demoted === master ? replica : master
  if (!promoted.running) await promoted.restart()
  // Sentinel's reconfiguration kills client connections: a failed probe counts as "not yet".
  const healthyReplica = async (): Promise<boolean> => {
    const repl = info(await promoted.command('INFO', 'replication'))
    if (repl.role !== 'slave' || repl.master_link_status !== 'up') return false
    for (const s of sentinels) {
      const replicas = fields(
        await redisCommand({ port: s.port, timeout: 1000 }, 'SENTINEL', 'REPLICAS', NAME),
      )
      if (!replicas.some((r) => Number(r.port) === promoted.port && r.flags === 'slave')) return false
    }
    return true
  }
  await waitFor(() => healthyReplica().catch(() => false), 60_000, 'a healthy replica in every Sentinel')

  const prefix = `tc-failover:${uniqueName('p')}:`
  const namespace = 'app'
  const a = makeInstance('a', prefix, namespace, '500ms')
  const b = makeInstance('b', prefix, namespace, '500ms')
  const instances = [a, b]
  const failures: string[] = []
  let running = true
  let ops = 0
  const worker = async (inst: Instance): Promise<void> => {
    while (running) {
      const key = `k:${Math.floor(Math.random() * KEYS)}`
      const r = Math.random()
      try {
        if (r < 0.3) await inst.cache.set(key, { at: Date.now() })
        else if (r < 0.4) await inst.cache.delete(key)
        else if (r < 0.55) await inst.cache.getOrSet(`g:${key}`, () => 'loaded')
        else await inst.cache.get(key)
      } catch (error) {
        failures.push(`${inst.label}: ${String(error)}`)
      }
      ops++
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
  }
  try {
    await Promise.all(instances.map((i) => i.cache.ready()))
    await waitFor(() => a.bus.stats().connected && b.bus.stats().connected, 10_000, 'both buses subscribed')
    const workers = [worker(a), worker(b)]
    await waitFor(() => ops > 200, 20_000, 'load before the switch')

    const started = Date.now()
    await redisCommand({ port: sentinels[0]!.port, timeout: 5000 }, 'SENTINEL', 'FAILOVER', NAME)
    await waitFor(
      async () => (await masterPorts().catch(() => [])).every((p) => p === promoted.port),
      60_000,
      'every Sentinel to name the promoted server',
    )
    const switched = Date.now()
    for (const inst of instances) {
      await waitFor(
        async () => {
          await inst.cache.set(`after:${inst.label}`, 'written after the switch')
          return (await promoted.command('EXISTS', `${prefix}${namespace}:after:${inst.label}`)) === 1
        },
        60_000,
        `${inst.label}'s writes to reach the new master`,
      )
    }
    const followed = Date.now()
    // Sentinel turns the old master into a replica only after seeing it claim the master role for
    // 8 s (then polls it every 10 s): the connections must leave it on Sentinel's +switch-master
    // announcement, well before that, or their writes land on a server about to discard them.
    const oldRole = info(await demoted.command('INFO', 'replication').catch(() => '')).role
    expect(oldRole, 'the connections followed only once the old master was reconfigured').toBe('master')
    const opsNow = ops
    await waitFor(() => ops > opsNow + 100, 20_000, 'load after the switch')
    running = false
    await Promise.all(workers)
    expect(failures).toEqual([])

    // The bus follows.
    await waitFor(() => a.bus.stats().connected && b.bus.stats().connected, 30_000, 'both buses subscribed')
    await a.cache.set('bus:1', 'one')
    await waitFor(
      async () => (await b.cache.get('bus:1')) === 'one' && b.cache.peek('bus:1') === 'one',
      10_000,
      'b to keep a copy in L1',
    )
    await a.cache.set('bus:1', 'two')
    await waitFor(() => b.cache.peek('bus:1') === undefined, 10_000, 'b to drop its copy')

    // The lock follows.
    const handle = await b.lock.acquire('switch', { ttl: 10_000, wait: 0 })
    expect(handle).toBeDefined()
    expect(await promoted.command('EXISTS', `${prefix}__lock:switch`)).toBe(1)
    expect(await a.lock.acquire('switch', { ttl: 10_000, wait: 0 })).toBeUndefined()
    await handle?.release()

    console.log(
      `manual failover: ${ops} calls, 0 failed; Sentinels switched ${switched - started} ms after SENTINEL FAILOVER, ` +
        `writes of both instances on the new master ${followed - started} ms after`,
    )
  } finally {
    running = false
    await Promise.all(instances.map((i) => i.cache.close()))
  }
}, 120_000)
