import { resolveConfig } from './config.js'
import { normalizeFields } from './fields.js'
import type { CacheConfigFields, DistributedCacheConfig } from './options.js'

export interface CacheConfig extends Readonly<DistributedCacheConfig> {}

/**
 * `CacheConfig(...)`: a configuration checked when it is made, for
 * `new DistributedCache(config)`. It takes its fields in camelCase (`redisHost`) or in
 * snake_case (`redis_host`); `null` (Python's `None`) means "not set", and a field
 * this package does not know is an error naming the valid ones. Fields left out come from the
 * environment when the cache is created.
 *
 * @example
 * ```ts
 * const config = new CacheConfig({ redisHost: 'localhost', redisPort: 6379, defaultTtl: 3600 })
 * const cache = new DistributedCache(config)
 * ```
 */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: see the interface above
export class CacheConfig {
  /**
   * @param fields - the configuration
   * @throws InvalidOptionError (`E_INVALID_OPTION`) for an unknown field (naming the valid ones)
   *   or a wrong value (naming the field)
   */
  constructor(fields: CacheConfigFields = {}) {
    const normalized = normalizeFields(fields)
    resolveConfig({ ...normalized, env: {} })
    Object.assign(this, normalized)
    Object.freeze(this)
  }
}
