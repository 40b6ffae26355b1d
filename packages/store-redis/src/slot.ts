/** CRC16-CCITT (XModem) lookup table, as Redis Cluster uses for key slots. */
const TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let crc = i << 8
  for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  TABLE[i] = crc
}

function crc16(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xffff) ^ (TABLE[((crc >> 8) ^ (bytes[i] as number)) & 0xff] as number)
  }
  return crc
}

const OPEN = 0x7b // {
const CLOSE = 0x7d // }

/**
 * The Redis Cluster hash slot (0-16383) of a key: CRC16 of its UTF-8 bytes, or of the part
 * between the first `{` and the next `}` when that part is not empty (a hash tag).
 *
 * @param key - the full Redis key
 */
export function keySlot(key: string): number {
  const bytes = Buffer.from(key, 'utf8')
  let start = 0
  let end = bytes.length
  const open = bytes.indexOf(OPEN)
  if (open >= 0) {
    const close = bytes.indexOf(CLOSE, open + 1)
    if (close > open + 1) {
      start = open + 1
      end = close
    }
  }
  return crc16(bytes, start, end) & 0x3fff
}

/**
 * Groups positions of `keys` by hash slot, so each group can go in one multi-key command
 * without a `CROSSSLOT` error.
 *
 * @param keys - full Redis keys
 * @returns one array of indices into `keys` per slot, in first-seen order
 */
export function groupBySlot(keys: readonly string[]): number[][] {
  const groups = new Map<number, number[]>()
  for (let i = 0; i < keys.length; i++) {
    const slot = keySlot(keys[i] as string)
    const group = groups.get(slot)
    if (group) group.push(i)
    else groups.set(slot, [i])
  }
  return [...groups.values()]
}
