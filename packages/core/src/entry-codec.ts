import { DeserializationError } from './errors.js'
import type { RemoteEntry } from './store.js'

const VERSION = 1
const HEADER = 1 + 8 + 8 + 8 + 4

/**
 * Packs a remote entry (its bytes and metadata) into one buffer, for stores that keep a single
 * blob per key (Redis, Keyv, files). Layout, big-endian: version `u8`, `createdAt`,
 * `freshUntil`, `staleUntil` as `f64`, tag-list length `u32`, the tags as a JSON array, then
 * the value bytes.
 *
 * @param entry - the entry to pack
 * @returns a new buffer
 */
export function encodeEntry(entry: RemoteEntry): Buffer {
  const tagsJson = entry.tags.length === 0 ? '' : JSON.stringify(entry.tags)
  const tagLen = tagsJson ? Buffer.byteLength(tagsJson) : 0
  const value = entry.value
  const out = Buffer.allocUnsafe(HEADER + tagLen + value.byteLength)
  out[0] = VERSION
  out.writeDoubleBE(entry.createdAt, 1)
  out.writeDoubleBE(entry.freshUntil, 9)
  out.writeDoubleBE(entry.staleUntil, 17)
  out.writeUInt32BE(tagLen, 25)
  if (tagLen) out.write(tagsJson, HEADER, tagLen, 'utf8')
  out.set(value, HEADER + tagLen)
  return out
}

const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * Unpacks a buffer made by {@link encodeEntry}. The returned value is a view into `bytes`
 * (no copy).
 *
 * @param bytes - the packed entry
 * @throws DeserializationError (`E_DESERIALIZE`) when the bytes are not a packed entry
 */
export function decodeEntry(bytes: Uint8Array): RemoteEntry {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < HEADER || buf[0] !== VERSION) {
    throw new DeserializationError('stored entry has an unknown layout')
  }
  const tagLen = buf.readUInt32BE(25)
  if (HEADER + tagLen > buf.length) throw new DeserializationError('stored entry is truncated')
  let tags = NO_TAGS
  if (tagLen) {
    try {
      tags = JSON.parse(buf.toString('utf8', HEADER, HEADER + tagLen)) as string[]
    } catch (cause) {
      throw new DeserializationError('stored entry has unreadable tags', { cause })
    }
  }
  return {
    value: buf.subarray(HEADER + tagLen),
    createdAt: buf.readDoubleBE(1),
    freshUntil: buf.readDoubleBE(9),
    staleUntil: buf.readDoubleBE(17),
    tags,
  }
}
