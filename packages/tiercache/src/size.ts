import { InvalidOptionError } from '@tiercache/core'

const UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
}

const SIZE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/

/**
 * Parses a memory size: a number of **bytes**, or a string such as `'512kb'`, `'100mb'`,
 * `'1.5gb'` (units `b`, `k`/`kb`/`kib`, `m`/`mb`/`mib`, `g`/`gb`/`gib`, case-insensitive; every
 * unit is a power of 1024, so `'100mb'` is 104,857,600 bytes, `100 * 1024 * 1024`).
 * A string of digits alone is bytes.
 *
 * @param input - bytes or a size string
 * @param option - the option name used in errors
 * @returns a positive whole number of bytes
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for anything else, zero and negatives included
 * @example
 * ```ts
 * parseSize('100mb') // 104857600
 * parseSize(1_048_576) // 1048576
 * ```
 */
export function parseSize(input: unknown, option = 'size'): number {
  let bytes: number
  if (typeof input === 'number') {
    bytes = input
  } else if (typeof input === 'string') {
    const m = SIZE.exec(input.trim().toLowerCase())
    const unit = m === null ? undefined : UNITS[m[2] as string]
    if (m === null || unit === undefined) {
      throw new InvalidOptionError(
        `${option}: "${input.slice(0, 40)}" is not a size; use bytes or strings like '512kb', '100mb', '1gb'`,
        { option },
      )
    }
    bytes = Math.floor(Number(m[1]) * unit)
  } else {
    throw new InvalidOptionError(`${option} must be a number of bytes or a string like '100mb'`, { option })
  }
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new InvalidOptionError(`${option} must be a positive whole number of bytes, got ${String(input)}`, {
      option,
    })
  }
  return bytes
}

/** Formats bytes for humans: `104857600` → `'100 MiB'`. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(1))} ${unit}`
  }
  return `${bytes} B`
}
