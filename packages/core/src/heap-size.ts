import { HEAP_PER_ARRAY, HEAP_PER_OBJECT, HEAP_PER_QUOTE, HEAP_PER_SLOT } from './heap-costs.js'
import { defaultSerializer, jsonSerializer, type Serializer, takeWalkEstimate } from './serializer.js'

/**
 * Estimates the heap bytes of the live value behind JSON `bytes`: the text's length plus the
 * per-element overheads above, read off the text in one pass. Bytes from other serializers are
 * counted by their length.
 */
export function jsonHeapBytes(bytes: Uint8Array): number {
  let n = bytes.byteLength
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]
    if (c === 0x2c) n += HEAP_PER_SLOT
    else if (c === 0x22) n += HEAP_PER_QUOTE
    else if (c === 0x7b) n += HEAP_PER_OBJECT
    else if (c === 0x5b) n += HEAP_PER_ARRAY
  }
  return n
}

/**
 * The size the memory tier accounts for a value whose encoding is `bytes`, right after
 * `serializer.serialize` produced them (the default serializer counted the structure while it
 * scanned the value, so this costs nothing there). JSON serializers: {@link jsonHeapBytes}; any
 * other serializer: the encoded length.
 */
export function heapSizeAfterSerialize(serializer: Serializer, bytes: Uint8Array): number {
  if (serializer === defaultSerializer) {
    const extra = takeWalkEstimate()
    return extra >= 0 ? bytes.byteLength + extra : jsonHeapBytes(bytes)
  }
  return serializer === jsonSerializer ? jsonHeapBytes(bytes) : bytes.byteLength
}

/** The size the memory tier accounts for a value decoded from `bytes` (a back-fill). */
export function heapSizeOfEncoded(serializer: Serializer, bytes: Uint8Array): number {
  return serializer === defaultSerializer || serializer === jsonSerializer
    ? jsonHeapBytes(bytes)
    : bytes.byteLength
}
