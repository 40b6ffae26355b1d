import { createHash, randomUUID } from 'node:crypto'
import {
  type DistributedLock,
  InvalidOptionError,
  type LockAcquireOptions,
  type LockHandle,
  parseDuration,
} from '@tiercache/core'
import { createClient, RedisConnection } from './client.js'
import type { AnyRedisClient, RedisLockOptions } from './options.js'
import { checkPrefix } from './redis-store.js'

/** Deletes the lock only if it still holds this handle's token. */
const RELEASE_SCRIPT =
  "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"
const RELEASE_SHA = createHash('sha1').update(RELEASE_SCRIPT).digest('hex')

type ScriptClient = Pick<AnyRedisClient, 'evalsha' | 'eval' | 'set'>

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, ms)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * A cross-instance lock for `getOrSet` (one loader call per key across every instance):
 * `SET <prefix>__lock:<key> <random token> NX PX <ttl>`; released by a compare-and-delete Lua
 * script (`EVALSHA`, falling back to `EVAL`), so a handle never frees a lock that expired and
 * was taken by someone else. Waiters poll with capped exponential backoff and jitter (10 ms
 * doubling to 200 ms by default). A lock that is never released expires after its `ttl`, so
 * nothing deadlocks. Create it with {@link redisLock}.
 */
export class RedisLock implements DistributedLock {
  /** The key prefix; lock keys are `<prefix>__lock:<key>`. */
  readonly prefix: string
  readonly #conn: RedisConnection
  readonly #pollInterval: number
  readonly #maxPollInterval: number
  readonly #defaultTtl: number
  #closing: Promise<void> | undefined

  /**
   * @param options - connection, prefix and polling; see {@link RedisLockOptions}
   */
  constructor(options: RedisLockOptions = {}) {
    this.prefix = checkPrefix(options.prefix)
    this.#pollInterval = Math.max(1, parseDuration(options.pollInterval ?? 10, 'pollInterval'))
    this.#maxPollInterval = Math.max(
      this.#pollInterval,
      parseDuration(options.maxPollInterval ?? 200, 'maxPollInterval'),
    )
    this.#defaultTtl = parseDuration(options.defaultTtl ?? 30_000, 'defaultTtl')
    if (!(this.#defaultTtl > 0) || !Number.isFinite(this.#defaultTtl)) {
      throw new InvalidOptionError('defaultTtl must be a positive finite duration', { option: 'defaultTtl' })
    }
    this.#conn = new RedisConnection(createClient(options), 'redis-lock')
  }

  /** The ioredis client. */
  get client(): AnyRedisClient {
    return this.#conn.client
  }

  /**
   * Takes the lock for `key`, polling up to `options.wait` milliseconds while another instance
   * holds it.
   *
   * @returns a handle, or `undefined` when the wait ended (or was aborted) without the lock
   * @throws StoreError when Redis fails (the engine then runs the loader without the lock)
   */
  async acquire(key: string, options: LockAcquireOptions): Promise<LockHandle | undefined> {
    const lockKey = `${this.prefix}__lock:${key}`
    const ttl = Number.isFinite(options.ttl) && options.ttl > 0 ? Math.ceil(options.ttl) : this.#defaultTtl
    const wait = Number.isFinite(options.wait) && options.wait > 0 ? options.wait : 0
    const signal = options.signal
    const token = randomUUID()
    const client = this.#conn.client as unknown as ScriptClient
    const deadline = Date.now() + wait
    for (let attempt = 0; ; attempt++) {
      if (signal?.aborted) return undefined
      let reply: unknown
      try {
        if (this.#conn.client.status !== 'ready') await this.#conn.waitReady('lock', key)
        reply = await client.set(lockKey, token, 'PX', ttl, 'NX')
      } catch (e) {
        throw this.#conn.fail('lock', key, e)
      }
      if (reply === 'OK') return this.#handle(lockKey, token, key)
      const remaining = deadline - Date.now()
      if (remaining <= 0) return undefined
      const base = Math.min(this.#maxPollInterval, this.#pollInterval * 2 ** Math.min(attempt, 20))
      const delay = Math.min(remaining, base * (0.5 + Math.random()))
      await sleep(delay, signal)
    }
  }

  #handle(lockKey: string, token: string, key: string): LockHandle {
    let released: Promise<void> | undefined
    const client = this.#conn.client as unknown as ScriptClient
    return {
      release: () => {
        released ??= (async () => {
          try {
            await client.evalsha(RELEASE_SHA, 1, lockKey, token)
          } catch (e) {
            if (!String((e as Error)?.message).includes('NOSCRIPT')) {
              this.#conn.fail('unlock', key, e)
              return
            }
            try {
              await client.eval(RELEASE_SCRIPT, 1, lockKey, token)
            } catch (e2) {
              this.#conn.fail('unlock', key, e2)
            }
          }
        })()
        return released
      },
    }
  }

  /** Closes the client when the lock owns it. */
  close(): Promise<void> {
    this.#closing ??= this.#conn.close()
    return this.#closing
  }
}

/**
 * Creates the cross-instance lock for `createCache({ lock })`.
 *
 * @param options - how to connect (as for `redisStore`), `prefix` (default `'tc:'`) and polling
 * @throws InvalidOptionError for bad options
 * @example
 * ```ts
 * const cache = createCache({ namespace: 'app', tiers: [memoryStore(), redisStore({ url })], lock: redisLock({ url }) })
 * await cache.getOrSet('report', () => buildReport())  // one buildReport() across all instances
 * ```
 */
export function redisLock(options: RedisLockOptions = {}): RedisLock {
  return new RedisLock(options)
}
