import type { Bus } from '@tiercache/core'
import type { BusHandlers, BusMessage } from '@tiercache/core/store'
import type { RedisBus } from '@tiercache/store-redis'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A bus that counts what it publishes and what it delivers, per sender, so a run can wait until
 * every instance has applied every message (the engine applies a message synchronously when it is
 * delivered). It also delays each delivery by 0-3 ms, in order, like a busy subscriber: that
 * widens the window between another instance's shared-tier writes and its message, where a late
 * back-fill or load result could resurrect a value.
 */
export class CountingBus implements Bus {
  readonly inner: RedisBus
  /** Publishes made, by this instance. */
  sent = 0
  /** Messages delivered to this instance, by sender instance id. */
  readonly received = new Map<string, number>()
  instanceId: string | undefined
  #queue: Promise<void> = Promise.resolve()
  #n = 0
  #held: Promise<void> | undefined
  #release: (() => void) | undefined

  /** Holds every delivery to this instance until {@link CountingBus.release}. */
  hold(): void {
    this.#held = new Promise((resolve) => {
      this.#release = resolve
    })
  }

  /** Lets held deliveries through, in order. */
  release(): void {
    this.#release?.()
    this.#held = undefined
    this.#release = undefined
  }

  constructor(inner: RedisBus) {
    this.inner = inner
  }

  subscribe(handlers: BusHandlers): void | Promise<void> {
    return this.inner.subscribe({
      ...handlers,
      message: (m: BusMessage) => {
        const delay = (++this.#n * 7919) % 4
        const held = this.#held
        this.#queue = this.#queue
          .then(() => held)
          .then(() => (delay > 0 ? sleep(delay) : undefined))
          .then(() => {
            handlers.message(m)
            this.received.set(m.instanceId, (this.received.get(m.instanceId) ?? 0) + 1)
          })
      },
    })
  }

  /** Resolves once every message received so far was delivered. */
  drained(): Promise<void> {
    return this.#queue
  }

  publish(message: BusMessage): void | Promise<void> {
    this.instanceId = message.instanceId
    this.sent++
    return this.inner.publish(message)
  }

  stats(): ReturnType<RedisBus['stats']> {
    return this.inner.stats()
  }

  close(): void | Promise<void> {
    return this.inner.close()
  }
}

/** One instance of the cache. */
