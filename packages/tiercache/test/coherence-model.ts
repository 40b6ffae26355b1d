/**
 * A model-based check of cross-instance coherence. Several cache instances (memory + a shared
 * Redis + an SQL tier, one bus) run random sequences of mutations against a reference model: a
 * source-of-truth map whose every value is a unique version. Reads on every instance race each
 * mutation; faults (bus gaps, Redis data loss, Redis restarts) come between them.
 *
 * The property (core's README, "Coherence"): once a mutation has returned and its bus message
 * has reached every instance, no read that starts afterwards returns a value it superseded; and
 * after quiescence no tier holds one it would serve.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { type Cache, createCache, defaultSerializer } from '@tiercache/core'
import type { StoreEntry } from '@tiercache/core/store'
import type { kyselyStore } from '@tiercache/fallback-kysely'
import { memoryStore } from '@tiercache/store-memory'
import { type RedisStore, redisBus, redisStore } from '@tiercache/store-redis'
import type { RedisServer } from '@tiercache/test-servers'
import { KEYS, type Key, type Read, type Step, tagOf } from './coherence-steps.js'
import { CountingBus } from './counting-bus.js'

/** How the SQL tier of each instance is made, in a run with its own directory and id. */
export type SqlTier = (
  instance: number,
  run: { readonly dir: string; readonly id: string },
) => ReturnType<typeof kyselyStore>
interface Instance {
  readonly cache: Cache
  readonly l1: ReturnType<typeof memoryStore>
  readonly l2: RedisStore
  readonly l3: ReturnType<typeof kyselyStore>
  readonly bus: CountingBus
  /** Upper bound of the engine's local-tier horizon (start, last bus gap), epoch ms. */
  horizon: number
  /** Bus gaps seen (flushes with reason `bus-reconnect`). */
  gaps: number
}

/** A value the model handed out: unique per version. */
interface Version {
  readonly key: string
  /** `performance.now()` when a mutation that replaced it completed (and reached every instance). */
  supersededAt: number | undefined
}

/** A violation of the property. */
export interface Violation {
  readonly what: string
  readonly instance: number
  readonly key: string
  readonly value: unknown
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The world of one run: the model, the instances, the checks. */
export class World {
  readonly server: RedisServer
  readonly instances: Instance[] = []
  readonly violations: Violation[] = []
  readonly #db = new Map<string, string>()
  readonly #versions = new Map<string, Version>()
  readonly #namespace: string
  readonly #prefix: string
  readonly #dir: string
  #next = 0

  private constructor(server: RedisServer, namespace: string, dir: string) {
    this.server = server
    this.#namespace = namespace
    this.#prefix = `${namespace}:`
    this.#dir = dir
  }

  /** Starts `count` instances on `server`, each with its own SQL tier from `sql`. */
  static async start(server: RedisServer, count: number, sql: SqlTier, namespace: string): Promise<World> {
    const dir = mkdtempSync(join(tmpdir(), 'tc-model-'))
    const world = new World(server, namespace, dir)
    for (let i = 0; i < count; i++) world.instances.push(world.#instance(i, sql))
    await world.#subscribed()
    for (const k of KEYS) world.#db.set(k, world.#version(k))
    return world
  }

  #instance(i: number, sql: SqlTier): Instance {
    const url = this.server.url
    const l1 = memoryStore({ maxEntries: 1000 })
    const l2 = redisStore({ url, prefix: this.#prefix, commandTimeout: 500 })
    const l3 = sql(i, { dir: this.#dir, id: this.#namespace.replace(/[^A-Za-z0-9]/g, '') })
    const bus = new CountingBus(redisBus({ url, prefix: this.#prefix }))
    const cache = createCache({
      namespace: 'm',
      tiers: [l1, l2, l3],
      bus,
      busWait: '2s',
      tierTimeout: '1s',
      ttl: '1h',
      grace: '1h',
    })
    const instance: Instance = { cache, l1, l2, l3, bus, horizon: Date.now() + 1, gaps: 0 }
    cache.on('flush', (e) => {
      if (e.reason !== 'bus-reconnect') return
      instance.horizon = Date.now() + 1
      instance.gaps++
    })
    return instance
  }

  #version(key: string): string {
    const value = `${key}#${++this.#next}`
    this.#versions.set(value, { key, supersededAt: undefined })
    return value
  }

  /** The source of truth: a new version of `key`; the old one is superseded once `done` is called. */
  #update(keys: readonly string[]): () => void {
    const old = keys.map((k) => this.#db.get(k) as string)
    for (const k of keys) this.#db.set(k, this.#version(k))
    return () => {
      const at = performance.now()
      for (const v of old) {
        const version = this.#versions.get(v) as Version
        version.supersededAt ??= at
      }
    }
  }

  /** The loader of `key`: reads the source of truth, then takes `delay` ms to return it. */
  #loader(key: string, delay: number): () => Promise<string> {
    return async () => {
      await immediate()
      const value = this.#db.get(key) as string
      if (delay > 0) await sleep(delay)
      return value
    }
  }

  /** Checks a value a read returned, given when the read started. */
  #check(what: string, instance: number, key: string, value: unknown, startedAt: number): void {
    if (value === undefined || value === false || value === true) return
    const version = this.#versions.get(value as string)
    if (version === undefined || version.key !== key) {
      this.violations.push({ what: `${what}: not a value of this key`, instance, key, value })
      return
    }
    if (version.supersededAt !== undefined && version.supersededAt < startedAt) {
      this.violations.push({ what: `${what}: superseded before the read started`, instance, key, value })
    }
  }

  #read(r: Read): Promise<void> {
    const w = this.instances[r.on] as Instance
    const started = performance.now()
    const done = (value: unknown): void => this.#check(r.op, r.on, r.key, value, started)
    const fail = (error: unknown): void => {
      this.violations.push({
        what: `${r.op} rejected: ${String(error)}`,
        instance: r.on,
        key: r.key,
        value: undefined,
      })
    }
    switch (r.op) {
      case 'get':
        return w.cache.get(r.key).then(done, fail)
      case 'getOrSet':
        return w.cache
          .getOrSet(r.key, this.#loader(r.key, r.delay), { tags: [tagOf(r.key)] })
          .then(done, fail)
      case 'getMany':
        return w.cache.getMany([r.key]).then((values) => done(values[0]), fail)
      case 'has':
        return w.cache.has(r.key).then(() => undefined, fail)
      case 'peek':
        try {
          done(w.cache.peek(r.key))
        } catch (error) {
          fail(error)
        }
        return Promise.resolve()
    }
  }

  /** Messages of sender `from` that receiver `to` is known to have missed (lost in a gap). */
  readonly #lost = new Map<string, number>()

  /** Waits until every instance has applied every message the others published. */
  async delivered(timeout = 5000): Promise<void> {
    const deadline = Date.now() + timeout
    for (;;) {
      const behind = this.instances.some((to, t) =>
        this.instances.some((from, f) => {
          if (from === to || from.bus.instanceId === undefined) return false
          const got = (to.bus.received.get(from.bus.instanceId) ?? 0) + (this.#lost.get(`${f}>${t}`) ?? 0)
          return got < from.bus.sent
        }),
      )
      if (!behind) return
      if (Date.now() > deadline) throw new Error('bus messages were not delivered in time')
      await sleep(2)
    }
  }

  /** After a gap: what was not delivered by now is lost (the gap's flush covers it). */
  async #acceptLosses(): Promise<void> {
    // Publishes queued for retry while Redis was away go out first; then whatever is on its way.
    const deadline = Date.now() + 10_000
    while (this.instances.some((w) => w.bus.stats().queued > 0) && Date.now() < deadline) await sleep(5)
    await sleep(20)
    await Promise.all(this.instances.map((w) => w.bus.drained()))
    for (const [t, to] of this.instances.entries()) {
      for (const [f, from] of this.instances.entries()) {
        if (from === to || from.bus.instanceId === undefined) continue
        const got = to.bus.received.get(from.bus.instanceId) ?? 0
        this.#lost.set(`${f}>${t}`, Math.max(0, from.bus.sent - got))
      }
    }
  }

  async #subscribed(timeout = 15_000): Promise<void> {
    const deadline = Date.now() + timeout
    while (this.instances.some((w) => !w.bus.stats().connected)) {
      if (Date.now() > deadline) throw new Error('buses did not subscribe in time')
      await sleep(5)
    }
  }

  async #reconnected(gapsBefore: readonly number[], timeout = 15_000): Promise<void> {
    const deadline = Date.now() + timeout
    while (this.instances.some((w, i) => w.gaps <= (gapsBefore[i] as number))) {
      if (Date.now() > deadline) throw new Error('instances did not see the bus gap end in time')
      await sleep(5)
    }
    await this.#subscribed()
    await this.#acceptLosses()
  }

  /** Runs one step. */
  async step(s: Step): Promise<void> {
    switch (s.kind) {
      case 'warm':
        await Promise.all(s.reads.map((r) => this.#read(r)))
        await this.delivered()
        return
      case 'busGap': {
        const gaps = this.instances.map((w) => w.gaps)
        await this.server.command('CLIENT', 'KILL', 'TYPE', 'pubsub')
        await this.#reconnected(gaps)
        return
      }
      case 'lostMessage': {
        // A mutation while every subscriber is away: its message is lost; the gap tells them.
        const gaps = this.instances.map((w) => w.gaps)
        await this.server.command('CLIENT', 'KILL', 'TYPE', 'pubsub')
        const done = this.#update([s.key])
        await (this.instances[s.by] as Instance).cache.delete(s.key)
        await this.#reconnected(gaps)
        done()
        return
      }
      case 'redisLoss':
        await this.server.command('FLUSHALL')
        return
      case 'racedLoad':
        await this.#racedLoad(s.by, s.on, s.key)
        return
      case 'redisRestart': {
        const gaps = this.instances.map((w) => w.gaps)
        await this.server.kill()
        await sleep(50)
        await this.server.restart()
        await this.#reconnected(gaps)
        return
      }
    }
    const w = this.instances[s.by] as Instance
    let keys: string[]
    let mutate: () => Promise<unknown>
    switch (s.kind) {
      case 'set':
        keys = [s.key]
        mutate = () => w.cache.set(s.key, this.#db.get(s.key) as string, { tags: [tagOf(s.key)] })
        break
      case 'invalidate':
        keys = [s.key]
        mutate = () => w.cache.delete(s.key)
        break
      case 'pattern':
        keys = KEYS.filter((k) => k.startsWith(s.group))
        mutate = () => w.cache.deleteByPattern(`${s.group}:*`)
        break
      case 'tags':
        keys = KEYS.filter((k) => k.startsWith(s.group))
        mutate = () => w.cache.invalidateTags([`t${s.group}`])
        break
      case 'clear':
        keys = [...KEYS]
        mutate = () => w.cache.clear()
        break
    }
    const reads: Promise<void>[] = []
    for (const r of s.reads) if (r.at === 0) reads.push(this.#read(r))
    // Let the early reads get under way (tier reads, loaders reading the source) before the
    // source changes and the mutation starts.
    if (reads.length > 0) await (s.lead > 0 ? sleep(s.lead) : immediate())
    const done = this.#update(keys)
    const mutation = mutate()
    await immediate()
    for (const r of s.reads) if (r.at === 1) reads.push(this.#read(r))
    await sleep(1)
    for (const r of s.reads) if (r.at === 2) reads.push(this.#read(r))
    await mutation
    await this.delivered()
    done()
    await Promise.all(reads)
    // Reads that start now must not see what the mutation replaced.
    await Promise.all(
      keys.map((key, i) =>
        this.#read({
          on: (s.by + 1 + i) % this.instances.length,
          key: key as Key,
          op: 'get',
          at: 0,
          delay: 0,
        }),
      ),
    )
  }

  /**
   * The cross-instance race, made deterministic: instance `on` loads `key` (the key is cold); its
   * loader reads the source, then waits until instance `by` has updated the source and deleted the
   * key from every tier, and returns the value it read before; only then does `on` receive `by`'s
   * bus message. A load result must not land in a shared tier after that delete.
   */
  async #racedLoad(by: number, on: number, key: Key): Promise<void> {
    const writer = this.instances[by] as Instance
    const loader = this.instances[on] as Instance
    await writer.cache.delete(key) // cold everywhere
    await this.delivered()
    const read = async () => {
      const value = this.#db.get(key) as string
      readDone()
      await gate
      return value
    }
    let readDone!: () => void
    const hasRead = new Promise<void>((resolve) => {
      readDone = resolve
    })
    let open!: () => void
    const gate = new Promise<void>((resolve) => {
      open = resolve
    })
    const started = performance.now()
    const load = loader.cache.getOrSet(key, read, { tags: [tagOf(key)] })
    await hasRead
    loader.bus.hold()
    const done = this.#update([key])
    await writer.cache.delete(key)
    open()
    this.#check('getOrSet (raced)', on, key, await load, started)
    await sleep(5) // let any write of the loaded value land
    loader.bus.release()
    await this.delivered()
    done()
    for (const [i, w] of this.instances.entries())
      this.#check('get after a raced load', i, key, await w.cache.get(key), performance.now())
  }

  /** After quiescence: what each instance serves, and what each tier would serve, is current. */
  async quiescent(): Promise<void> {
    await this.delivered()
    const now = performance.now() + 1
    for (const [i, w] of this.instances.entries()) {
      for (const key of KEYS) {
        this.#check('peek at quiescence', i, key, w.cache.peek(key), now)
        this.#check('get at quiescence', i, key, await w.cache.get(key), now)
        const raw = await w.l3.get(`m:${key}`)
        if (raw !== undefined) this.#checkRaw(`L3 of instance ${i}`, i, key, raw, w)
      }
    }
    // Redis alone, through a probe cache that reads tag times from Redis.
    const probe = createCache({
      namespace: 'm',
      tiers: [redisStore({ url: this.server.url, prefix: this.#prefix })],
    })
    try {
      for (const key of KEYS) this.#check('Redis at quiescence', -1, key, await probe.get(key), now)
    } finally {
      await probe.close()
    }
  }

  /** A raw SQL-tier entry that the instance would serve as fresh must be current. */
  #checkRaw(what: string, i: number, key: string, entry: StoreEntry<Uint8Array>, w: Instance): void {
    if (w.l3.scope === 'local' && entry.createdAt <= w.horizon) return // not served as fresh
    if (entry.freshUntil <= Date.now()) return
    const value = defaultSerializer.deserialize(entry.value) as string
    const version = this.#versions.get(value)
    if (version?.supersededAt === undefined) return
    // Superseded: acceptable only if its tag was invalidated after it was created.
    const tagged = entry.tags.length > 0
    if (!tagged || !this.#tagInvalidatedSince(entry)) {
      this.violations.push({ what: `${what} holds a superseded value`, instance: i, key, value })
    }
  }

  #tagTimes = new Map<string, number>()
  #tagInvalidatedSince(entry: StoreEntry<Uint8Array>): boolean {
    return entry.tags.some((t) => (this.#tagTimes.get(t) ?? 0) >= entry.createdAt)
  }

  /** Records when tags were invalidated (epoch ms), for the raw checks. */
  tagsInvalidated(group: string): void {
    this.#tagTimes.set(`t${group}`, Date.now())
  }

  async close(): Promise<void> {
    const shared = this.instances[0]?.l3
    if (shared?.scope === 'shared') await shared.dropSchema().catch(() => {})
    await Promise.all(this.instances.map((w) => w.cache.close()))
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

/** Runs `steps` in a fresh world and returns the violations. */
export async function runModel(
  server: RedisServer,
  sql: SqlTier,
  run: readonly Step[],
  namespace: string,
  instances = 3,
): Promise<Violation[]> {
  await server.command('FLUSHALL')
  const world = await World.start(server, instances, sql, namespace)
  try {
    for (const s of run) {
      await world.step(s)
      if ((s.kind === 'tags' || s.kind === 'clear') && 'group' in s) world.tagsInvalidated(s.group)
    }
    await world.quiescent()
    return world.violations
  } finally {
    await world.close()
  }
}
