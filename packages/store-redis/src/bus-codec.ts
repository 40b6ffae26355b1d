/**
 * @module
 * The wire format of bus messages, shared by the pub/sub bus and the stream bus.
 */
import type { BusMessage, BusMessageType } from '@tiercache/core/store'

const TYPES: ReadonlySet<string> = new Set<BusMessageType>(['set', 'delete', 'pattern', 'tags', 'clear'])

/**
 * Encodes a message as compact JSON with one-letter fields:
 * `{"v":1,"i":instanceId,"n":namespace,"t":type,"k":keys,"p":pattern,"g":tags,"a":at,"x":prefix,"l":1}`
 * (`l` only for a `set` of a loaded value).
 * Values are never part of a message.
 *
 * @param message - the message
 */
export function encodeBusMessage(message: BusMessage): string {
  const o: Record<string, unknown> = { v: 1, i: message.instanceId, n: message.namespace, t: message.type }
  if (message.keys !== undefined) o.k = message.keys
  if (message.pattern !== undefined) o.p = message.pattern
  if (message.tags !== undefined) o.g = message.tags
  if (message.at !== undefined) o.a = message.at
  if (message.prefix !== undefined) o.x = message.prefix
  if (message.load === true) o.l = 1
  return JSON.stringify(o)
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string')

/**
 * Decodes {@link encodeBusMessage} output; `undefined` for anything malformed.
 *
 * @param text - the received payload
 */
export function decodeBusMessage(text: string): BusMessage | undefined {
  let o: Record<string, unknown>
  try {
    o = JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
  if (typeof o !== 'object' || o === null || o.v !== 1) return undefined
  if (typeof o.i !== 'string' || typeof o.n !== 'string' || typeof o.t !== 'string' || !TYPES.has(o.t)) {
    return undefined
  }
  const m: { -readonly [K in keyof BusMessage]: BusMessage[K] } = {
    instanceId: o.i,
    namespace: o.n,
    type: o.t as BusMessageType,
  }
  if (isStrings(o.k)) m.keys = o.k
  if (typeof o.p === 'string') m.pattern = o.p
  if (isStrings(o.g)) m.tags = o.g
  if (typeof o.a === 'number') m.at = o.a
  if (typeof o.x === 'string') m.prefix = o.x
  if (o.l === 1) m.load = true
  return m
}
