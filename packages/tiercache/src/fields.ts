import { InvalidOptionError } from '@tiercache/core'
import type { CacheConfigFields, DistributedCacheConfig } from './options.js'

/** Every field {@link createDistributedCache} knows, in camelCase, in the README's order. */
export const CONFIG_FIELDS: readonly (keyof DistributedCacheConfig)[] = Object.freeze([
  'redisUrl',
  'redisHost',
  'redisPort',
  'redisDb',
  'redisUsername',
  'redisPassword',
  'redisSsl',
  'redisSslCertReqs',
  'redisSslCaCerts',
  'redisPrefix',
  'defaultTtl',
  'maxMemorySize',
  'enableCacheWarming',
  'cacheWarmingThreshold',
  'enableMetrics',
  'fallbackToDb',
  'fallbackDb',
  'namespace',
  'timeUnit',
  'breaker',
  'waitForBus',
  'busMode',
  'busRetention',
  'relay',
  'logger',
  'registry',
  'cacheOptions',
  'env',
])

const KNOWN = new Set<string>(CONFIG_FIELDS)

/** `redisSslCertReqs` → `redis_ssl_cert_reqs`. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}

/** The snake_case spelling of every field, to its camelCase name. */
const SNAKE = new Map<string, string>(CONFIG_FIELDS.map((f) => [snake(f), f]))

/** Levenshtein distance, for "did you mean". */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j] as number
      row[j] = Math.min(
        (row[j] as number) + 1,
        (row[j - 1] as number) + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      )
      prev = cur
    }
  }
  return row[b.length] as number
}

/** The known field closest to `name` (case and underscores ignored), if it is close. */
function closest(name: string): string | undefined {
  const plain = (s: string) => s.replace(/_/g, '').toLowerCase()
  let best: string | undefined
  let bestDistance = Number.POSITIVE_INFINITY
  for (const field of CONFIG_FIELDS) {
    const d = distance(plain(name), plain(field))
    if (d < bestDistance) {
      best = field
      bestDistance = d
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined
}

/**
 * Checks the field names of a configuration and returns it in camelCase: snake_case
 * spellings (`redis_host`) become camelCase (`redisHost`), and `null` (Python's `None`) means
 * "not set". Values are checked later, by `resolveConfig`.
 *
 * @param input - the configuration as given
 * @returns a new object with camelCase fields and no `null`s
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for a field this package does not know (naming
 *   the valid ones and the closest), or for one field given in both spellings
 */
export function normalizeFields(input: CacheConfigFields): DistributedCacheConfig {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new InvalidOptionError('createDistributedCache: config must be an object', { option: 'config' })
  }
  const out: Record<string, unknown> = {}
  const spelledAs = new Map<string, string>()
  for (const [name, value] of Object.entries(input)) {
    const field = KNOWN.has(name) ? name : SNAKE.get(name)
    if (field === undefined) {
      const guess = closest(name)
      throw new InvalidOptionError(
        `createDistributedCache: unknown config field "${name}"${guess === undefined ? '' : ` (did you mean ${guess}?)`}. Valid fields: ${CONFIG_FIELDS.join(', ')} (or their snake_case spellings, e.g. redis_host)`,
        { option: name },
      )
    }
    const earlier = spelledAs.get(field)
    if (earlier !== undefined) {
      throw new InvalidOptionError(
        `createDistributedCache: ${earlier} and ${name} are the same field; give one`,
        { option: field },
      )
    }
    spelledAs.set(field, name)
    if (value !== null && value !== undefined) out[field] = value
  }
  return out as DistributedCacheConfig
}
