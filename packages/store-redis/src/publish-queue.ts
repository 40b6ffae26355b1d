/**
 * @module
 * The retry queue both buses publish through (pub/sub and stream): what a failed publish becomes,
 * with one rule for drops.
 */
import { type BusMessage, type Duration, InvalidOptionError, parseDuration } from '@tiercache/core/store'
import { encodeBusMessage } from './bus-codec.js'

/** The retry bounds of a bus (the options of `redisBus` of the same names). */
export interface PublishQueueOptions {
  /** Messages kept for retry; the oldest is dropped first. @default 1000 */
  readonly maxQueue?: number | undefined
  /** Attempts per message before it is dropped. @default 10 */
  readonly maxAttempts?: number | undefined
  /** First retry delay (doubles per failure), in ms or a duration string. @default 100 */
  readonly retryDelay?: Duration | undefined
  /** Longest retry delay, in ms or a duration string. @default 5000 */
  readonly maxRetryDelay?: Duration | undefined
}

interface Pending {
  readonly payload: string
  readonly namespace: string
  readonly instanceId: string
  attempts: number
  /** A `clear` standing in for dropped messages: never dropped itself, one per namespace. */
  readonly flush?: boolean
}

/**
 * Sends messages through `send`, queueing the ones that fail for retry with exponential back-off
 * (at most `maxQueue` messages, oldest dropped first, each tried `maxAttempts` times). A drop is
 * counted in `failed`, and each namespace that lost a message gets one `clear` message queued in
 * its place (retried until it goes out or the queue closes): the other instances then flush
 * their local tiers of that namespace instead of keeping what the lost message invalidated.
 */
export class PublishQueue {
  /** First retry delay, in ms (also the bus's resubscribe delay). */
  readonly retryDelay: number
  /** Longest retry delay, in ms. */
  readonly maxRetryDelay: number
  readonly #maxQueue: number
  readonly #maxAttempts: number
  readonly #send: (payload: string) => Promise<boolean>
  readonly #queue: Pending[] = []
  #timer: ReturnType<typeof setTimeout> | undefined
  #failures = 0
  #failed = 0
  #closed = false

  /**
   * @param options - the retry bounds
   * @param send - one attempt: true when the message went out
   * @throws InvalidOptionError for a bad bound
   */
  constructor(options: PublishQueueOptions, send: (payload: string) => Promise<boolean>) {
    const maxQueue = options.maxQueue ?? 1000
    if (!Number.isInteger(maxQueue) || maxQueue < 0) {
      throw new InvalidOptionError('maxQueue must be a non-negative integer', { option: 'maxQueue' })
    }
    const maxAttempts = options.maxAttempts ?? 10
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
      throw new InvalidOptionError('maxAttempts must be a positive integer', { option: 'maxAttempts' })
    }
    this.#maxQueue = maxQueue
    this.#maxAttempts = maxAttempts
    this.retryDelay = Math.max(1, parseDuration(options.retryDelay ?? 100, 'retryDelay'))
    this.maxRetryDelay = Math.max(
      this.retryDelay,
      parseDuration(options.maxRetryDelay ?? 5000, 'maxRetryDelay'),
    )
    this.#send = send
  }

  /** Messages dropped for good (after retries, on overflow, or by `close`). */
  get failed(): number {
    return this.#failed
  }

  /** Messages waiting to be retried. */
  get queued(): number {
    return this.#queue.length
  }

  /**
   * Sends a message, or queues it behind earlier ones still waiting. Never rejects; resolves
   * after the first attempt. After `close`, counts the message as failed.
   */
  async publish(message: BusMessage): Promise<void> {
    if (this.#closed) {
      this.#failed++
      return
    }
    const payload = encodeBusMessage(message)
    const item = { payload, namespace: message.namespace, instanceId: message.instanceId }
    if (this.#queue.length > 0) {
      this.#enqueue({ ...item, attempts: 0 })
      return
    }
    if (await this.#send(payload)) return
    this.#enqueue({ ...item, attempts: 1 })
  }

  /** Stops retrying; messages still queued count as failed. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#failed += this.#queue.length
    this.#queue.length = 0
  }

  #enqueue(item: Pending): void {
    if (item.attempts >= this.#maxAttempts || this.#maxQueue === 0) {
      this.#drop(item)
      this.#schedule()
      return
    }
    this.#queue.push(item)
    while (this.#queue.length > this.#maxQueue) {
      const oldest = this.#queue.findIndex((p) => !p.flush)
      if (oldest < 0) break
      this.#drop(this.#queue.splice(oldest, 1)[0] as Pending)
    }
    this.#schedule()
  }

  /** Counts a dropped message and queues a `clear` of its namespace in its place (once per namespace). */
  #drop(item: Pending): void {
    this.#failed++
    if (this.#maxQueue === 0 || this.#closed) return
    if (this.#queue.some((p) => p.flush && p.namespace === item.namespace)) return
    const clear: BusMessage = { instanceId: item.instanceId, namespace: item.namespace, type: 'clear' }
    this.#queue.push({
      payload: encodeBusMessage(clear),
      namespace: item.namespace,
      instanceId: item.instanceId,
      attempts: 0,
      flush: true,
    })
  }

  #schedule(): void {
    if (this.#timer || this.#closed || this.#queue.length === 0) return
    const delay = Math.min(this.maxRetryDelay, this.retryDelay * 2 ** Math.min(this.#failures, 20))
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#drain()
    }, delay)
    this.#timer.unref?.()
  }

  async #drain(): Promise<void> {
    while (!this.#closed && this.#queue.length > 0) {
      const head = this.#queue[0] as Pending
      if (await this.#send(head.payload)) {
        this.#queue.shift()
        this.#failures = 0
        continue
      }
      this.#failures++
      head.attempts++
      if (!head.flush && head.attempts >= this.#maxAttempts) {
        this.#queue.shift()
        this.#drop(head)
      }
      break
    }
    this.#schedule()
  }
}
