import type { Bus, BusMessage } from '../bus.js'
import type { EngineContext } from './context.js'
import { isThenable } from './entries.js'

/** A mutation as it travels (without sender and namespace). */
type Outgoing = Omit<BusMessage, 'instanceId' | 'namespace'>

/**
 * This instance's side of the invalidation bus: publishes own mutations (and waits, bounded, for
 * the bus to take them), and hands other instances' mutations and connection gaps to the engine.
 */
export class BusSync {
  readonly #ctx: EngineContext
  readonly bus: Bus
  /** Longest wait for a publish, in ms; 0 = do not wait. */
  readonly #wait: number

  constructor(ctx: EngineContext, bus: Bus, wait: number) {
    this.#ctx = ctx
    this.bus = bus
    this.#wait = wait
  }

  /**
   * Starts listening. `message` receives other instances' mutations of this namespace; `gap` is
   * called when messages may have been lost (the subscription was down).
   */
  subscribe(message: (m: BusMessage) => void, gap: () => void): void {
    try {
      const r = this.bus.subscribe({
        message: (m) => {
          if (m.instanceId === this.#ctx.instanceId || m.namespace !== this.#ctx.root || this.#ctx.closed)
            return
          if (this.#ctx.emitter.listening.bus)
            this.#ctx.emitter.emit('bus', { direction: 'received', type: m.type })
          message(m)
        },
        reconnected: gap,
        disconnected: () =>
          this.#ctx.logger.warn(
            {},
            'tiercache: the invalidation bus is disconnected; local tiers may serve superseded values until it is back (then it replays what it missed, or flushes them)',
          ),
      })
      if (isThenable(r)) this.#ctx.background(r)
    } catch (error) {
      this.#ctx.reportError(error, 'bus.subscribe', undefined)
    }
  }

  /**
   * Publishes an own mutation. With `wait`, resolves once the bus took it, or after the
   * configured wait, whichever is first (at once when the bus says it is disconnected or the wait
   * is 0). Never rejects.
   */
  publish(message: Outgoing, wait = true): Promise<void> | undefined {
    const ctx = this.#ctx
    if (ctx.closed) return undefined
    const full = { ...message, instanceId: ctx.instanceId, namespace: ctx.root } as BusMessage
    let r: void | Promise<void>
    try {
      r = this.bus.publish(full)
    } catch (error) {
      ctx.reportError(error, 'bus.publish', undefined)
      return undefined
    }
    if (!isThenable(r)) {
      if (ctx.emitter.listening.bus) ctx.emitter.emit('bus', { direction: 'sent', type: full.type })
      return undefined
    }
    const sent = r.then(
      () => {
        if (ctx.emitter.listening.bus) ctx.emitter.emit('bus', { direction: 'sent', type: full.type })
      },
      (error: unknown) => {
        ctx.reportError(error, 'bus.publish', undefined)
        if (ctx.emitter.listening.bus) ctx.emitter.emit('bus', { direction: 'failed', type: full.type })
      },
    )
    ctx.background(sent)
    if (!wait || !(this.#wait > 0) || this.bus.stats?.().connected === false) return undefined
    let timer: unknown
    return Promise.race([
      sent,
      new Promise<void>((resolve) => {
        timer = ctx.setCallerTimer(resolve, this.#wait)
      }),
    ]).finally(() => ctx.clearTimer(timer))
  }
}
