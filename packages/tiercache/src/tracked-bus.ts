import type { Bus, BusHandlers, BusMessage, BusStats } from '@tiercache/core'

/**
 * A bus that remembers its publishes in flight, so a write can wait until Redis has taken its
 * invalidation message: Redis hands a message to every subscriber before it answers the
 * publisher, so once {@link TrackedBus.settled} resolves, the other instances have it.
 */
export class TrackedBus implements Bus {
  readonly #inner: Bus
  readonly #inflight = new Set<Promise<void>>()

  constructor(inner: Bus) {
    this.#inner = inner
  }

  subscribe(handlers: BusHandlers): void | Promise<void> {
    return this.#inner.subscribe(handlers)
  }

  publish(message: BusMessage): void | Promise<void> {
    const r = this.#inner.publish(message)
    if (r === undefined) return
    const p = r.then(
      () => {
        this.#inflight.delete(p)
      },
      () => {
        this.#inflight.delete(p)
      },
    )
    this.#inflight.add(p)
    return p
  }

  stats(): BusStats {
    return this.#inner.stats?.() ?? { sent: 0, received: 0, failed: 0, queued: 0, connected: false }
  }

  close(): void | Promise<void> {
    return this.#inner.close?.()
  }

  /** Publishes in flight. */
  get pending(): number {
    return this.#inflight.size
  }

  /**
   * Resolves once every publish made so far has settled, or after `maxWait` milliseconds,
   * whichever comes first. Resolves at once when nothing is in flight.
   */
  settled(maxWait: number): Promise<void> | undefined {
    if (this.#inflight.size === 0) return undefined
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, maxWait)
      timer.unref()
    })
    return Promise.race([Promise.all([...this.#inflight]).then(() => {}), timeout]).finally(() =>
      clearTimeout(timer),
    )
  }
}
