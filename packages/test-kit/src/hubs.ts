/**
 * In-process stand-ins for the distributed parts: a bus hub whose buses hear each other, and a
 * lock hub whose locks exclude each other.
 *
 * @module
 */
import type { Bus, DistributedLock } from '@tiercache/core'
import type { BusHandlers, BusMessage, LockHandle } from '@tiercache/core/store'

/** An in-process bus hub: every bus made by `connect()` hears every other. */
export function busHub() {
  const members = new Set<{ handlers: BusHandlers | undefined }>()
  const sent: BusMessage[] = []
  return {
    sent,
    connect(): Bus & { reconnect(): void } {
      const me: { handlers: BusHandlers | undefined } = { handlers: undefined }
      members.add(me)
      return {
        subscribe(handlers) {
          me.handlers = handlers
        },
        publish(message) {
          sent.push(message)
          for (const m of members) m.handlers?.message(structuredClone(message))
        },
        reconnect() {
          me.handlers?.reconnected()
        },
        close() {
          members.delete(me)
        },
      }
    },
  }
}

/** An in-process distributed lock shared by every lock made by `connect()`. */
export function lockHub(clock: { now(): number }) {
  const held = new Map<string, { token: number; until: number }>()
  let next = 1
  const waiters: (() => void)[] = []
  return {
    held,
    connect(): DistributedLock {
      return {
        async acquire(key, { ttl, wait }) {
          const deadline = Date.now() + wait
          for (;;) {
            const cur = held.get(key)
            if (cur === undefined || cur.until <= clock.now()) {
              const token = next++
              held.set(key, { token, until: clock.now() + ttl })
              const handle: LockHandle = {
                async release() {
                  if (held.get(key)?.token === token) held.delete(key)
                  for (const w of waiters.splice(0)) w()
                },
              }
              return handle
            }
            if (Date.now() >= deadline) return undefined
            await new Promise<void>((resolve) => {
              waiters.push(resolve)
              setTimeout(resolve, 5)
            })
          }
        },
      }
    },
  }
}
