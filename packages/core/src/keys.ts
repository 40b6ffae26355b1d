import { InvalidKeyError, InvalidOptionError } from './errors.js'

/** Default maximum key length in UTF-8 bytes: 1,024. */
export const DEFAULT_MAX_KEY_BYTES = 1024

/** `String.prototype.isWellFormed` (ES2024; in every Node version tiercache supports). */
const isWellFormed = (String.prototype as unknown as { isWellFormed(this: string): boolean }).isWellFormed

/**
 * True when `text` can be stored the same in every tier: well-formed UTF-16 (no lone surrogate,
 * which Redis and the SQL drivers would turn into U+FFFD, so two keys would share one entry) and
 * no NUL character (U+0000, which a PostgreSQL `text` column cannot hold and SQLite's pattern
 * functions stop at).
 *
 * @param text - a key, tag or pattern
 */
export function isPortableText(text: string): boolean {
  return isWellFormed.call(text) && text.indexOf('\u0000') === -1
}

/** Why `text` is not portable, for error messages. */
export function portabilityProblem(text: string): string {
  return isWellFormed.call(text)
    ? 'contains a NUL character (U+0000)'
    : 'is not well-formed UTF-16 (it holds a lone surrogate)'
}

/**
 * Throws unless `key` is a non-empty string of at most `maxBytes` UTF-8 bytes, well-formed
 * UTF-16 and without NUL (see {@link isPortableText}).
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
  if (!isPortableText(key)) {
    throw new InvalidKeyError(`cache key ${portabilityProblem(key)}`, { key })
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
      `namespace must be 1-64 characters of A-Z a-z 0-9 _ . - (got ${typeof name === 'string' ? JSON.stringify(name).slice(0, 80) : typeof name})`,
      { option: 'namespace' },
    )
  }
}
