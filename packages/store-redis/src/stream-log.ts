/**
 * The invalidation log on a Redis stream, shared by the stream bus and the region relay: the
 * append script (XADD + PUBLISH of the new id with the id before it, in one script), entry
 * parsing, id comparison, and the {@link StreamReader} that follows a stream by push and catches
 * up by `XRANGE`.
 *
 * @module
 */
import type { RedisConnection } from './client.js'
import type { AnyRedisClient } from './options.js'

/**
 * Appends one entry and announces it. Optionally guarded by a position key (the relay's copy
 * position in the same hash slot): the entry is appended only when `ARGV[6]` is newer than the
 * stored position, and the position moves in the same script, so a copy is applied once however
 * often (and by however many relays) it is retried.
 *
 * KEYS: stream [, position]. ARGV: channel, maxLen, message, origin ('' for none), gap ('' or
 * '1'), source id (with a position key), force ('1': set the position without comparing).
 * Returns the new id, or false when the position was already at or past the source id.
 */
export const APPEND_SCRIPT = `
if KEYS[2] then
  if ARGV[7] ~= '1' then
    local pos = redis.call('GET', KEYS[2])
    if pos then
      local a, b = string.match(pos, '^(%d+)-(%d+)$')
      local c, d = string.match(ARGV[6], '^(%d+)-(%d+)$')
      a, b, c, d = tonumber(a), tonumber(b), tonumber(c), tonumber(d)
      if a > c or (a == c and b >= d) then return false end
    end
  end
  redis.call('SET', KEYS[2], ARGV[6])
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = '0-0'
if last[1] then prev = last[1][1] end
local args = {'XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[3]}
if ARGV[4] ~= '' then args[#args + 1] = 'o'; args[#args + 1] = ARGV[4] end
if ARGV[5] ~= '' then args[#args + 1] = 'g'; args[#args + 1] = '1' end
local id = redis.call(unpack(args))
redis.call('PUBLISH', ARGV[1], id .. '\\n' .. prev .. '\\n' .. ARGV[4] .. '\\n' .. ARGV[5] .. '\\n' .. ARGV[3])
return id
`

/** One entry of the log. */
export interface StreamEntry {
  /** Stream id (`<ms>-<seq>`). */
  readonly id: string
  /** The encoded bus message (empty for a gap marker). */
  readonly message: string
  /** Region the entry was first written in, when a relay copied it here; `''` for local entries. */
  readonly origin: string
  /** True for a gap marker: messages were lost upstream, readers must flush. */
  readonly gap: boolean
}

/** Compares two stream ids numerically: negative, 0 or positive. */
export function compareIds(a: string, b: string): number {
  const i = a.indexOf('-')
  const j = b.indexOf('-')
  const ma = Number(a.slice(0, i))
  const mb = Number(b.slice(0, j))
  if (ma !== mb) return ma < mb ? -1 : 1
  const sa = Number(a.slice(i + 1))
  const sb = Number(b.slice(j + 1))
  return sa === sb ? 0 : sa < sb ? -1 : 1
}

/** Parses an `XRANGE` reply. */
export function parseEntries(reply: unknown): StreamEntry[] {
  const out: StreamEntry[] = []
  if (!Array.isArray(reply)) return out
  for (const item of reply as [string, string[]][]) {
    const [id, fields] = item
    let message = ''
    let origin = ''
    let gap = false
    for (let i = 0; i + 1 < fields.length; i += 2) {
      const f = fields[i]
      const v = fields[i + 1] as string
      if (f === 'm') message = v
      else if (f === 'o') origin = v
      else if (f === 'g') gap = v === '1'
    }
    out.push({ id: String(id), message, origin, gap })
  }
  return out
}

/** Parses a push (`id\nprev\norigin\ngap\nmessage`); `undefined` when malformed. */
export function parsePush(text: string): { entry: StreamEntry; prev: string } | undefined {
  const a = text.indexOf('\n')
  const b = text.indexOf('\n', a + 1)
  const c = text.indexOf('\n', b + 1)
  const d = text.indexOf('\n', c + 1)
  if (a < 0 || b < 0 || c < 0 || d < 0) return undefined
  return {
    prev: text.slice(a + 1, b),
    entry: {
      id: text.slice(0, a),
      origin: text.slice(b + 1, c),
      gap: text.slice(c + 1, d) === '1',
      message: text.slice(d + 1),
    },
  }
}

let sha: string | undefined

/** Runs {@link APPEND_SCRIPT} (EVALSHA, falling back to EVAL once per process). */
export async function runAppend(
  client: AnyRedisClient,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<string | null> {
  const c = client as unknown as {
    evalsha(...a: (string | number)[]): Promise<unknown>
    eval(...a: (string | number)[]): Promise<unknown>
  }
  if (sha !== undefined) {
    try {
      return (await c.evalsha(sha, keys.length, ...keys, ...args)) as string | null
    } catch (e) {
      if (!String((e as Error)?.message).includes('NOSCRIPT')) throw e
    }
  }
  const r = (await c.eval(APPEND_SCRIPT, keys.length, ...keys, ...args)) as string | null
  sha ??= await scriptSha()
  return r
}

async function scriptSha(): Promise<string> {
  const { createHash } = await import('node:crypto')
  return createHash('sha1').update(APPEND_SCRIPT).digest('hex')
}

/** Sends one command through `call` (present on ioredis Redis and Cluster). */
export function call(client: AnyRedisClient, ...args: (string | number)[]): Promise<unknown> {
  return (client as unknown as { call(...a: (string | number)[]): Promise<unknown> }).call(...args)
}

/** The id of the newest entry, `'0-0'` when the stream is empty or missing. */
export async function tailId(client: AnyRedisClient, key: string): Promise<string> {
  const r = parseEntries(await call(client, 'XREVRANGE', key, '+', '-', 'COUNT', 1))
  return r[0]?.id ?? '0-0'
}

/** What a {@link StreamReader} needs. */
export interface StreamReaderOptions {
  /** Connection for `XRANGE` (any non-blocking command connection to the stream's Redis). */
  readonly source: RedisConnection
  /** A dedicated connection for `SUBSCRIBE`, owned by the reader. */
  readonly subscriber: RedisConnection
  readonly key: string
  readonly channel: string
  /** Entries per `XRANGE` during catch-up. */
  readonly batch: number
  /** Milliseconds between checks for entries no push announced (and retries after errors). */
  readonly pollInterval: number
  /** The position to start after; `undefined` starts at the stream's current end. */
  start(): Promise<string | undefined>
  /** Applies entries in stream order; a rejection stops the reader until the next retry. */
  apply(entry: StreamEntry): void | Promise<void>
  /**
   * Optional: applies a batch read back from the stream (a catch-up) at once; the position moves
   * past the batch only when it resolves. Without it, entries go to `apply` one by one.
   */
  applyBatch?(entries: readonly StreamEntry[]): Promise<void>
  /**
   * True when `apply` is synchronous: an announced entry that follows the last applied one is
   * then applied at once in the message callback, without a turn through the queue.
   */
  readonly syncApply?: boolean
  /**
   * Entries after `from` were trimmed (or the stream was reset) before this reader read them;
   * `to` is where reading goes on. Runs before any later entry is applied.
   */
  gap(from: string, to: string): void | Promise<void>
  /** The subscription went down (`false`) or is up and caught up (`true`). */
  status(connected: boolean): void
}

/**
 * Follows a stream: pushes on the channel carry each new entry with the id before it, so an
 * entry whose predecessor is the last applied one is applied at once (pub/sub latency); anything
 * else (a reconnect, a broken chain, a poll finding unannounced entries) reads the missed entries
 * with `XRANGE` from the last applied id. When that id is no longer in the stream, the entries
 * after it were trimmed: `gap()` and go on from the end. Every step runs in one queue, so
 * entries are applied one at a time in stream order.
 */
export class StreamReader {
  readonly #o: StreamReaderOptions
  /** Last id applied; `undefined` until the start position is known. */
  #last: string | undefined
  #queue: Promise<void> = Promise.resolve()
  #pending: { entry: StreamEntry; prev: string }[] = []
  #draining = false
  #catchUpQueued = false
  #polling = false
  #pollingSince = 0
  /** Since when the subscription has been down (or the last forced reconnect). */
  #downSince = performance.now()
  #subscribingSince = 0
  /** A newer id a poll saw; caught up at the next poll if still not applied. */
  #suspect: string | undefined
  /** A queued step is running (a read may be in flight: announcements wait for it). */
  #busy = false
  #lastPush = 0
  #subscribed = false
  /** `status(true)` was reported for the current subscription. */
  #announced = false
  #subscribing = false
  #closed = false
  #timer: ReturnType<typeof setInterval> | undefined
  #errorTimer: ReturnType<typeof setTimeout> | undefined
  /** Entries applied, entries applied from a catch-up read (not an announcement), gaps seen, errors met. */
  applied = 0
  replayed = 0
  gaps = 0
  errors = 0
  #caughtUp: (() => void) | undefined
  /** Resolves once the reader is subscribed and has caught up the first time. */
  readonly ready: Promise<void>

  constructor(options: StreamReaderOptions) {
    this.#o = options
    this.ready = new Promise<void>((resolve) => {
      this.#caughtUp = resolve
    })
    const sub = options.subscriber
    sub.client.on('message', this.#onMessage)
    sub.onStatusChange((connected) => {
      if (connected) this.#subscribe()
      else this.#lost()
    })
    if (sub.client.status === 'wait') sub.client.connect().catch(() => {})
    this.#subscribe()
    this.#timer = setInterval(() => this.#tick(), options.pollInterval)
    this.#timer.unref?.()
  }

  /** Last applied id (`undefined` before the start). */
  get position(): string | undefined {
    return this.#last
  }

  /** Whether the subscription is up. */
  get subscribed(): boolean {
    return this.#subscribed
  }

  /**
   * Every poll interval: subscribe again if the subscription is down while the connection is
   * up (a SUBSCRIBE lost in a reconnect), forget a SUBSCRIBE or poll that has not answered for
   * ten intervals, then poll.
   */
  #tick(): void {
    const now = performance.now()
    const stale = 10 * this.#o.pollInterval
    if (this.#subscribing && now - this.#subscribingSince > stale) this.#subscribing = false
    if (this.#polling && now - this.#pollingSince > stale) this.#polling = false
    // A client of ours that gave up reconnecting (status `end` while the reader is open) starts again:
    // the reader must follow its stream for as long as it lives.
    // A client of ours that gave up reconnecting (status `end` while the reader is open) starts again,
    // and a subscription down for ten intervals although the connections say they are up gets
    // fresh connections: the reader must follow its stream for as long as it lives.
    if (this.#subscribed) this.#downSince = now
    else if (now - this.#downSince > stale) {
      this.#downSince = now
      this.#subscribing = false
      for (const conn of [this.#o.subscriber, this.#o.source]) {
        if (!conn.owned) continue // never a client the caller handed in
        const status = conn.client.status
        if (status === 'end') conn.client.connect().catch(() => {})
        else if (status === 'ready' || status === 'connect') {
          ;(conn.client as unknown as { disconnect(reconnect: boolean): void }).disconnect(true)
        }
      }
    }
    if (!this.#subscribed) this.#subscribe()
    this.#poll()
  }

  /**
   * The safety net for a lost announcement followed by silence: when nothing was announced for
   * a poll interval, ask for the newest id (outside the queue, so announcements are not held up
   * by the round trip). An id past the last applied one that is still unapplied at the next poll
   * (an announcement may just be late) starts a catch-up; a lost announcement is thus found
   * within two poll intervals.
   */
  #poll(): void {
    if (this.#closed || this.#polling || this.#last === undefined) return
    if (performance.now() - this.#lastPush < this.#o.pollInterval) return
    const suspect = this.#suspect
    if (suspect !== undefined && compareIds(this.#last, suspect) < 0) {
      this.#suspect = undefined
      this.#catchUp()
      return
    }
    this.#polling = true
    this.#pollingSince = performance.now()
    const before = this.#last
    tailId(this.#o.source.client, this.#o.key).then(
      (tail) => {
        this.#polling = false
        const last = this.#last
        if (last === undefined) return
        if (compareIds(tail, last) > 0) this.#suspect = tail
        else if (tail !== '0-0' && compareIds(tail, before) < 0) {
          this.#catchUp() // the stream went back: a reset, which the read reports as a gap
        } else this.#suspect = undefined
      },
      () => {
        this.#polling = false
      },
    )
  }

  readonly #onMessage = (channel: string, text: string): void => {
    if (channel !== this.#o.channel || this.#closed) return
    const push = parsePush(text)
    if (!push) return
    this.#lastPush = performance.now()
    const last = this.#last
    if (this.#o.syncApply && !this.#busy && this.#pending.length === 0 && last !== undefined) {
      if (compareIds(push.entry.id, last) <= 0) return
      if (push.prev === last) {
        try {
          this.#o.apply(push.entry)
        } catch {}
        this.#last = push.entry.id
        this.applied++
        return
      }
    }
    this.#pending.push(push)
    if (!this.#draining) {
      this.#draining = true
      this.#enqueue(() => this.#drain())
    }
  }

  #lost(): void {
    if (this.#closed) return
    if (this.#subscribed) {
      this.#subscribed = false
      if (this.#announced) this.#o.status(false)
      this.#announced = false
    }
  }

  #subscribe(): void {
    const client = this.#o.subscriber.client
    if (this.#closed || this.#subscribing || this.#subscribed || client.status !== 'ready') return
    this.#subscribing = true
    this.#subscribingSince = performance.now()
    client.subscribe(this.#o.channel).then(
      () => {
        this.#subscribing = false
        if (this.#closed) return
        this.#subscribed = true
        this.#announced = false
        // Anything published while unsubscribed is read from the stream. A catch-up already
        // queued may have read before the subscription: queue one more.
        this.#catchUpQueued = false
        this.#catchUp()
      },
      () => {
        this.#subscribing = false
        this.#retrySoon()
      },
    )
  }

  #retrySoon(): void {
    if (this.#closed || this.#errorTimer) return
    this.#errorTimer = setTimeout(() => {
      this.#errorTimer = undefined
      this.#subscribe()
      this.#catchUp()
    }, this.#o.pollInterval)
    this.#errorTimer.unref?.()
  }

  #enqueue(step: () => Promise<void>): void {
    const run = async (): Promise<void> => {
      this.#busy = true
      try {
        await step()
      } finally {
        this.#busy = false
      }
    }
    this.#queue = this.#queue.then(run).catch(() => {
      this.errors++
      this.#retrySoon()
    })
  }

  /** Queues a catch-up unless one is already waiting. */
  #catchUp(): void {
    if (this.#closed || this.#catchUpQueued) return
    this.#catchUpQueued = true
    this.#enqueue(async () => {
      this.#catchUpQueued = false
      await this.#read()
      // Subscribed and caught up (the first time since the subscription came up): connected.
      if (this.#subscribed && !this.#announced) {
        this.#announced = true
        this.#o.status(true)
        this.#caughtUp?.()
        this.#caughtUp = undefined
      }
    })
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#closed) {
        const { entry, prev } = this.#pending.shift() as { entry: StreamEntry; prev: string }
        const last = this.#last
        if (last === undefined) continue // not started: the start reads the stream
        if (compareIds(entry.id, last) <= 0) continue // already applied
        if (prev === last) {
          await this.#o.apply(entry)
          this.#last = entry.id
          this.applied++
        } else {
          await this.#read()
        }
      }
    } finally {
      this.#draining = false
      if (this.#pending.length > 0 && !this.#closed) {
        this.#draining = true
        this.#enqueue(() => this.#drain())
      }
    }
  }

  /** Reads and applies every entry after the last applied one. */
  async #read(): Promise<void> {
    if (this.#closed) return
    const o = this.#o
    const client = o.source.client
    if (this.#last === undefined) {
      const start = await o.start()
      this.#last = start ?? (await tailId(client, o.key))
      if (start === undefined) return
    }
    for (;;) {
      if (this.#closed) return
      const last = this.#last as string
      let entries: StreamEntry[]
      if (last === '0-0') {
        entries = parseEntries(await call(client, 'XRANGE', o.key, '-', '+', 'COUNT', o.batch))
        if (entries.length > 0 && (await trimmedSinceCreation(client, o.key))) {
          await this.#gap(last)
          return
        }
      } else {
        entries = parseEntries(await call(client, 'XRANGE', o.key, last, '+', 'COUNT', o.batch + 1))
        if (entries[0]?.id !== last) {
          // The last applied entry is gone: trimmed (with whatever came after it), or the
          // stream was reset.
          await this.#gap(last)
          return
        }
        entries.shift()
      }
      if (o.applyBatch !== undefined && entries.length > 1) {
        if (this.#closed) return
        await o.applyBatch(entries)
        this.#last = (entries[entries.length - 1] as StreamEntry).id
        this.applied += entries.length
        this.replayed += entries.length
      } else {
        for (const entry of entries) {
          if (this.#closed) return
          await o.apply(entry)
          this.#last = entry.id
          this.applied++
          this.replayed++
        }
      }
      if (entries.length < o.batch) return
    }
  }

  async #gap(from: string): Promise<void> {
    const to = await tailId(this.#o.source.client, this.#o.key)
    this.gaps++
    await this.#o.gap(from, to)
    this.#last = to
  }

  /** Stops reading; resolves when the step in progress ended. Closes the subscriber. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    clearTimeout(this.#errorTimer)
    this.#caughtUp?.()
    this.#o.subscriber.client.off('message', this.#onMessage)
    await this.#queue
    await this.#o.subscriber.close()
  }
}

/** True when entries were trimmed from the stream since it was created (Redis 7 `XINFO`). */
async function trimmedSinceCreation(client: AnyRedisClient, key: string): Promise<boolean> {
  const info = (await call(client, 'XINFO', 'STREAM', key)) as unknown[]
  for (let i = 0; i + 1 < info.length; i += 2) {
    if (info[i] === 'max-deleted-entry-id') return String(info[i + 1]) !== '0-0'
  }
  // Before Redis 7 there is no way to tell: assume the worst.
  return true
}
