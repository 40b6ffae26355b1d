import { InvalidKeyError, InvalidOptionError } from './errors.js'

/** Default maximum key length in UTF-8 bytes: 1,024. */
export const DEFAULT_MAX_KEY_BYTES = 1024

/**
 * Throws unless `key` is a non-empty string of at most `maxBytes` UTF-8 bytes.
 *
 * @param key - the key to check
 * @param maxBytes - limit in bytes
 * @default maxBytes 1024
 * @throws InvalidKeyError (`E_INVALID_KEY`, a `TypeError`)
 */
export function validateKey(key: unknown, maxBytes: number = DEFAULT_MAX_KEY_BYTES): asserts key is string {
  if (typeof key !== 'string') {
    throw new InvalidKeyError(`cache keys must be strings, got ${key === null ? 'null' : typeof key}`)
  }
  const len = key.length
  if (len === 0) throw new InvalidKeyError('cache keys must not be empty')
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short keys need no byte count.
  if (len * 3 > maxBytes && Buffer.byteLength(key, 'utf8') > maxBytes) {
    throw new InvalidKeyError(`cache key is longer than ${maxBytes} bytes`, { key })
  }
}

const NAMESPACE_SEGMENT = /^[A-Za-z0-9_.-]{1,64}$/

/**
 * Throws unless `name` is a valid namespace segment: 1-64 characters of `A-Z a-z 0-9 _ . -`.
 * Namespaces never contain `:` (the separator) or glob characters, so a namespace prefix can
 * always be matched exactly.
 *
 * @param name - the namespace segment
 * @throws InvalidOptionError (`E_INVALID_OPTION`)
 */
export function validateNamespace(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !NAMESPACE_SEGMENT.test(name)) {
    throw new InvalidOptionError(
      `namespace must be 1-64 characters of A-Z a-z 0-9 _ . - (got ${JSON.stringify(String(name)).slice(0, 80)})`,
      { option: 'namespace' },
    )
  }
}
