import type { CacheEventName, CacheEvents, CacheListener } from './types.js'

/**
 * A small typed emitter. Emitting to an event nobody listens to costs one property read, so the
 * hot path checks {@link Emitter.listening} before building an event object. A listener that
 * throws never breaks the cache: the error is reported to `onListenerError`.
 */
export class Emitter {
  readonly #listeners: { [E in CacheEventName]?: CacheListener<E>[] } = {}
  /**
   * Per event, true while at least one listener is attached. Read it before building events.
   * A plain object with every event name present, so reads stay on V8's fast path (a missing key
   * on a dictionary object would miss the inline cache on every read).
   */
  readonly listening: Record<CacheEventName, boolean> = {
    hit: false,
    miss: false,
    set: false,
    delete: false,
    'delete:pattern': false,
    'invalidate:tags': false,
    clear: false,
    stale: false,
    load: false,
    collapse: false,
    refresh: false,
    error: false,
    flush: false,
    bus: false,
    'tier:status': false,
    hot: false,
    'warm:start': false,
    'warm:progress': false,
    'warm:done': false,
  }
  readonly #onListenerError: (error: unknown) => void

  /** @param onListenerError - receives errors thrown by listeners */
  constructor(onListenerError: (error: unknown) => void) {
    this.#onListenerError = onListenerError
  }

  /** Adds a listener. */
  on<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    let list = this.#listeners[event] as CacheListener<E>[] | undefined
    if (list === undefined) {
      list = []
      ;(this.#listeners as Record<string, unknown>)[event] = list
    }
    list.push(listener)
    this.listening[event] = true
  }

  /** Removes a listener. */
  off<E extends CacheEventName>(event: E, listener: CacheListener<E>): void {
    const list = this.#listeners[event] as CacheListener<E>[] | undefined
    if (!list) return
    const i = list.indexOf(listener)
    if (i >= 0) list.splice(i, 1)
    this.listening[event] = list.length > 0
  }

  /** Calls every listener of `event`. */
  emit<E extends CacheEventName>(event: E, payload: CacheEvents[E]): void {
    const list = this.#listeners[event] as CacheListener<E>[] | undefined
    if (!list || list.length === 0) return
    for (const listener of list.length === 1 ? list : [...list]) {
      try {
        listener(payload)
      } catch (error) {
        if (event !== 'error') this.#onListenerError(error)
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    for (const key of Object.keys(this.#listeners) as CacheEventName[]) {
      delete this.#listeners[key]
      this.listening[key] = false
    }
  }
}
