import {
  DeserializationError,
  decodeEntry,
  encodeEntry,
  NEVER,
  type RemoteEntry,
} from '@tiercache/core/store'

/**
 * How an entry is kept in a Keyv adapter.
 *
 * Adapters store text, and several (SQL ones) read an `expires` field from Keyv's serialized
 * shape, so the stored value is Keyv's own JSON shape, `{"value": <text>, "expires": <ms>}`,
 * whatever serializer a Keyv instance around the adapter uses. `<text>` is `tc1:` followed by
 * the base64 of a payload:
 *
 * ```
 * u8   layout version (1)
 * u8   stamp length S, then S bytes of ASCII stamp (generations mode; 0 otherwise)
 * u32  key length K (big-endian), then K bytes of UTF-8: the adapter key the entry was written under
 * ...  the entry packed by encodeEntry (metadata + value bytes)
 * ```
 *
 * The adapter key travels inside the value so a scan never depends on how an adapter prefixes,
 * strips or reports keys: the store deletes exactly the key it wrote.
 *
 * @module
 */

const MARK = 'tc1:'
const VERSION = 1

/** A decoded stored value. */
export interface StoredEntry {
  /** The adapter key the entry was written under. */
  readonly key: string
  /** The generation stamp, `''` outside generations mode. */
  readonly stamp: string
  /** The entry. */
  readonly entry: RemoteEntry
}

/**
 * Packs an entry for an adapter.
 *
 * @param adapterKey - the key given to the adapter
 * @param entry - the entry
 * @param stamp - generation stamp (ASCII, at most 255 characters), `''` for none
 */
export function toStored(adapterKey: string, entry: RemoteEntry, stamp: string): string {
  const packed = encodeEntry(entry)
  const keyLength = Buffer.byteLength(adapterKey)
  const head = Buffer.allocUnsafe(2 + stamp.length + 4 + keyLength)
  head[0] = VERSION
  head[1] = stamp.length
  head.write(stamp, 2, 'latin1')
  head.writeUInt32BE(keyLength, 2 + stamp.length)
  head.write(adapterKey, 6 + stamp.length, 'utf8')
  const text = MARK + Buffer.concat([head, packed]).toString('base64')
  return entry.staleUntil >= NEVER
    ? JSON.stringify({ value: text })
    : JSON.stringify({ value: text, expires: entry.staleUntil })
}

/** A marker value (generations mode) in the same Keyv shape. */
export function toStoredMarker(token: string): string {
  return JSON.stringify({ value: token })
}

/** Reads a marker token; `''` when absent or unreadable. */
export function fromStoredMarker(raw: unknown): string {
  const text = valueText(raw)
  return text ?? ''
}

const SHAPE_START = '{"value":"'

/** The `<text>` of a stored value, or `undefined` when it is not in Keyv's shape. */
function valueText(raw: unknown): string | undefined {
  let data: unknown = raw
  if (typeof raw === 'string') {
    // Fast path for what toStored writes: base64 and base64url need no JSON escapes.
    if (raw.startsWith(SHAPE_START)) {
      const end = raw.indexOf('"', SHAPE_START.length)
      const text = raw.slice(SHAPE_START.length, end)
      if (end !== -1 && !text.includes('\\')) return text
    }
    try {
      data = JSON.parse(raw)
    } catch {
      return undefined
    }
  }
  const value = (data as { value?: unknown } | null | undefined)?.value
  return typeof value === 'string' ? value : undefined
}

/** Where the parts of a payload are, or `undefined` for a payload of another layout. */
function headLayout(buf: Buffer): { stamp: string; key: string; entryAt: number } | undefined {
  if (buf.length < 6 || buf[0] !== VERSION) return undefined
  const stampLength = buf[1] as number
  const keyAt = 6 + stampLength
  if (buf.length < keyAt) return undefined
  const entryAt = keyAt + buf.readUInt32BE(2 + stampLength)
  if (buf.length < entryAt) return undefined
  return {
    stamp: buf.toString('latin1', 2, 2 + stampLength),
    key: buf.toString('utf8', keyAt, entryAt),
    entryAt,
  }
}

/**
 * Decodes a stored value written by {@link toStored}.
 *
 * @throws DeserializationError (`E_DESERIALIZE`) when the value is not one the store wrote
 */
export function fromStored(raw: unknown): StoredEntry {
  const text = valueText(raw)
  if (text === undefined || !text.startsWith(MARK)) {
    throw new DeserializationError('the stored value was not written by a tiercache keyv store')
  }
  const buf = Buffer.from(text.slice(MARK.length), 'base64')
  const head = headLayout(buf)
  if (!head) throw new DeserializationError('the stored value is truncated')
  return { key: head.key, stamp: head.stamp, entry: decodeEntry(buf.subarray(head.entryAt)) }
}
