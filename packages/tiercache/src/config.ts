import { readFileSync } from 'node:fs'
import { InvalidOptionError, parseDuration, type TimeUnit } from '@tiercache/core'
import { resolveTimeUnit, validateNamespace } from '@tiercache/core/store'
import { normalizeFields } from './fields.js'
import {
  type CacheConfigFields,
  type DistributedCacheConfig,
  ENV,
  REDIS_URL_ENV,
  type RelayConfig,
  type SslCertReqs,
} from './options.js'
import { parseSize } from './size.js'

/** How to reach Redis, after defaults and the environment were applied. */
export interface ResolvedRedisConfig {
  /** The URL, when one was given (credentials included; never log it, use `where`). */
  readonly url: string | undefined
  /** Host, when no URL was given. */
  readonly host: string | undefined
  /** Port, when no URL was given. */
  readonly port: number | undefined
  /** Database index, when set (it overrides the URL's). */
  readonly db: number | undefined
  /** ACL user, when set (it overrides the URL's). */
  readonly username: string | undefined
  /** Password, when set (it overrides the URL's). */
  readonly password: string | undefined
  /** Whether the connection uses TLS (`redisSsl` or a `rediss://` URL). */
  readonly tls: boolean
  /** TLS `rejectUnauthorized`, from `redisSslCertReqs`. */
  readonly rejectUnauthorized: boolean
  /** PEM text of the CA file given by `redisSslCaCerts`. */
  readonly ca: string | undefined
  /** Key prefix and bus channel prefix. */
  readonly prefix: string
  /** `host:port/db` for messages, never with credentials. */
  readonly where: string
}

/** The configuration {@link createDistributedCache} runs with: every default applied, units normalized. */
export interface ResolvedConfig {
  /** Root namespace. */
  readonly namespace: string
  /** What a bare number of time means in this cache: `'s'` (the default) or `'ms'`. */
  readonly timeUnit: TimeUnit
  /** The Redis tier's connection, or `undefined` when there is no Redis tier (embedded mode). */
  readonly redis: ResolvedRedisConfig | undefined
  /** Default TTL in **milliseconds** (converted from `defaultTtl` in the cache's `timeUnit`). */
  readonly defaultTtlMs: number
  /** L1 byte bound. */
  readonly maxMemorySize: number
  /** Hot-key warming on or off. */
  readonly enableCacheWarming: boolean
  /** How the invalidation bus travels. */
  readonly busMode: 'pubsub' | 'stream'
  /** Entries the bus stream keeps (`busMode: 'stream'`). */
  readonly busRetention: number
  /** This instance's relay role, when it has one. */
  readonly relay: RelayConfig | undefined
  /** Reads per minute that make a key hot. */
  readonly cacheWarmingThreshold: number
  /** Prometheus metrics on or off. */
  readonly enableMetrics: boolean
  /** SQL tier on or off. */
  readonly fallbackToDb: boolean
  /** SQLite path or database URL of the SQL tier. */
  readonly fallbackDb: string
  /** Breaker reset timeout from `TIERCACHE_BREAKER_RESET_TIMEOUT`, in milliseconds, when set. */
  readonly breakerResetTimeoutMs: number | undefined
}

type Env = Readonly<Record<string, string | undefined>>
type Field = keyof typeof ENV

/** The value of one field: from the config object if given there, else from the environment. */
interface Source {
  readonly config: DistributedCacheConfig
  readonly env: Env
}

function envValue(env: Env, name: string): string | undefined {
  const v = env[name]
  return v === undefined || v.trim() === '' ? undefined : v.trim()
}

function invalid(field: string, message: string, fromEnv: string | undefined): InvalidOptionError {
  const where = fromEnv === undefined ? field : `${field} (from ${fromEnv})`
  return new InvalidOptionError(`createDistributedCache: ${where} ${message}`, { option: field })
}

function str(src: Source, field: Field, useEnv = true): string | undefined {
  const v = src.config[field as keyof DistributedCacheConfig]
  if (v !== undefined) {
    if (typeof v !== 'string' || v.length === 0) throw invalid(field, 'must be a non-empty string', undefined)
    return v
  }
  return useEnv ? envValue(src.env, ENV[field]) : undefined
}

function int(src: Source, field: Field, min: number, max: number, useEnv = true): number | undefined {
  const v = src.config[field as keyof DistributedCacheConfig]
  let n: number
  let fromEnv: string | undefined
  if (v !== undefined) {
    n = v as number
  } else {
    const raw = useEnv ? envValue(src.env, ENV[field]) : undefined
    if (raw === undefined) return undefined
    fromEnv = ENV[field]
    n = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN
  }
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(field, `must be a whole number from ${min} to ${max}, got ${String(v ?? n)}`, fromEnv)
  }
  return n
}

const TRUE = new Set(['1', 'true', 'yes', 'on'])
const FALSE = new Set(['0', 'false', 'no', 'off'])

function bool(src: Source, field: Field, fallback: boolean): boolean {
  const v = src.config[field as keyof DistributedCacheConfig]
  if (v !== undefined) {
    if (typeof v !== 'boolean') throw invalid(field, `must be true or false, got ${String(v)}`, undefined)
    return v
  }
  const raw = envValue(src.env, ENV[field])
  if (raw === undefined) return fallback
  const lower = raw.toLowerCase()
  if (TRUE.has(lower)) return true
  if (FALSE.has(lower)) return false
  throw invalid(field, `must be true/false, 1/0, yes/no or on/off, got "${raw}"`, ENV[field])
}

/** `defaultTtl`: a number (or a digit string) is in `unit`, seconds by default; other strings are durations. */
function ttlMs(src: Source, unit: TimeUnit): number {
  let v: unknown = src.config.defaultTtl
  let fromEnv: string | undefined
  if (v === undefined) {
    v = envValue(src.env, ENV.defaultTtl)
    if (v === undefined) return 3_600_000
    fromEnv = ENV.defaultTtl
  }
  const factor = unit === 's' ? 1000 : 1
  const word = unit === 's' ? 'seconds' : 'milliseconds'
  let ms: number
  if (typeof v === 'number') {
    ms = v * factor
  } else if (typeof v === 'string' && /^\d+(\.\d+)?$/.test(v)) {
    ms = Number(v) * factor
  } else if (typeof v === 'string') {
    try {
      ms = parseDuration(v, 'defaultTtl')
    } catch {
      throw invalid(
        'defaultTtl',
        `must be ${word} (a number) or a duration like '1h', '30m', 'forever', got "${v}"`,
        fromEnv,
      )
    }
  } else {
    throw invalid('defaultTtl', `must be a number of ${word} or a duration string`, fromEnv)
  }
  if (Number.isNaN(ms) || ms <= 0) {
    throw invalid('defaultTtl', `must be more than 0 ${word}, got ${String(v)}`, fromEnv)
  }
  return ms
}

function memorySize(src: Source): number {
  const v = src.config.maxMemorySize
  if (v !== undefined) return parseSize(v, 'maxMemorySize')
  const raw = envValue(src.env, ENV.maxMemorySize)
  if (raw === undefined) return 104_857_600
  try {
    return parseSize(raw, 'maxMemorySize')
  } catch (error) {
    throw invalid(
      'maxMemorySize',
      (error as Error).message.replace(/^maxMemorySize:? ?/, ''),
      ENV.maxMemorySize,
    )
  }
}

function certReqs(src: Source): boolean {
  const v: unknown = src.config.redisSslCertReqs ?? envValue(src.env, ENV.redisSslCertReqs)
  if (v === undefined) return true
  const fromEnv = src.config.redisSslCertReqs === undefined ? ENV.redisSslCertReqs : undefined
  const word = typeof v === 'string' ? v.toLowerCase().replace(/^(ssl\.)?cert_/, '') : ''
  const known: Record<string, SslCertReqs> = { required: 'required', optional: 'optional', none: 'none' }
  const value = known[word]
  if (value === undefined) {
    throw invalid('redisSslCertReqs', `must be 'required', 'optional' or 'none', got ${String(v)}`, fromEnv)
  }
  return value !== 'none'
}

function whereOf(
  url: string | undefined,
  host: string | undefined,
  port: number,
  db: number | undefined,
): string {
  if (url !== undefined) {
    const u = new URL(url)
    const urlDb = u.pathname.replace(/^\//, '')
    const d = db ?? (urlDb === '' ? 0 : Number(urlDb))
    return `${u.hostname}:${u.port || 6379}/${d}`
  }
  return `${host}:${port}/${db ?? 0}`
}

function redisConfig(src: Source): ResolvedRedisConfig | undefined {
  const c = src.config
  // A connection given in code wins as a whole over one from the environment.
  const inCode = c.redisUrl !== undefined || c.redisHost !== undefined || c.redisPort !== undefined
  let url: string | undefined
  let host: string | undefined
  let port: number | undefined
  let urlFrom: string | undefined
  if (inCode) {
    url = str(src, 'redisUrl', false)
    host = str(src, 'redisHost', false)
    port = int(src, 'redisPort', 1, 65_535, false)
  } else {
    url = envValue(src.env, ENV.redisUrl)
    urlFrom = ENV.redisUrl
    if (url === undefined) {
      url = envValue(src.env, REDIS_URL_ENV)
      urlFrom = REDIS_URL_ENV
    }
    host = envValue(src.env, ENV.redisHost)
    port = int(src, 'redisPort', 1, 65_535)
  }
  if (url === undefined && host === undefined && port === undefined) return undefined
  if (url !== undefined && (host !== undefined || port !== undefined)) {
    throw invalid(
      host !== undefined ? 'redisHost' : 'redisPort',
      `cannot be combined with redisUrl${urlFrom ? ` (${urlFrom} is set)` : ''}: put the host and port in the URL`,
      undefined,
    )
  }
  if (url !== undefined) {
    let scheme: string
    try {
      scheme = new URL(url).protocol
    } catch {
      throw invalid('redisUrl', 'is not a URL (expected redis://host:port/db or rediss://…)', urlFrom)
    }
    if (scheme !== 'redis:' && scheme !== 'rediss:') {
      throw invalid('redisUrl', `must start with redis:// or rediss://, got ${scheme}//`, urlFrom)
    }
  }
  const db = int(src, 'redisDb', 0, 1_000_000)
  const username = str(src, 'redisUsername')
  const password = c.redisPassword !== undefined ? c.redisPassword : envValue(src.env, ENV.redisPassword)
  if (password !== undefined && typeof password !== 'string') {
    throw invalid('redisPassword', 'must be a string', undefined)
  }
  const ssl = bool(src, 'redisSsl', false) || (url?.startsWith('rediss:') ?? false)
  const rejectUnauthorized = certReqs(src)
  const caPath = str(src, 'redisSslCaCerts')
  let ca: string | undefined
  if (caPath !== undefined) {
    try {
      ca = readFileSync(caPath, 'utf8')
    } catch (error) {
      throw invalid(
        'redisSslCaCerts',
        `cannot be read: ${(error as Error).message}`,
        c.redisSslCaCerts === undefined ? ENV.redisSslCaCerts : undefined,
      )
    }
  }
  const prefix = c.redisPrefix ?? envValue(src.env, ENV.redisPrefix) ?? 'tc:'
  if (typeof prefix !== 'string') throw invalid('redisPrefix', 'must be a string', undefined)
  const resolvedHost = url === undefined ? (host ?? '127.0.0.1') : undefined
  const resolvedPort = url === undefined ? (port ?? 6379) : undefined
  return {
    url,
    host: resolvedHost,
    port: resolvedPort,
    db,
    username,
    password,
    tls: ssl,
    rejectUnauthorized,
    ca,
    prefix,
    where: whereOf(url, resolvedHost, resolvedPort ?? 6379, db),
  }
}

function timeUnitOf(src: Source): TimeUnit {
  const v = src.config.timeUnit ?? envValue(src.env, ENV.timeUnit)
  try {
    return v === undefined ? 's' : resolveTimeUnit(v)
  } catch {
    throw invalid(
      'timeUnit',
      `must be 's' (seconds) or 'ms' (milliseconds), got ${JSON.stringify(v)}`,
      src.config.timeUnit === undefined ? ENV.timeUnit : undefined,
    )
  }
}

/**
 * Applies defaults and environment variables to a configuration and validates it, without
 * connecting to anything.
 *
 * @param input - the configuration (camelCase or snake_case fields); fields given
 *   here win over the environment
 * @returns the configuration with every default applied and durations in milliseconds
 * @throws InvalidOptionError (`E_INVALID_OPTION`) naming the field (and the environment variable
 *   it came from) when a value is wrong, or naming the valid fields when one is unknown
 */
export function resolveConfig(input: CacheConfigFields = {}): ResolvedConfig {
  const config = normalizeFields(input)
  const env: Env = config.env === false ? {} : (config.env ?? process.env)
  if (env === null || typeof env !== 'object') {
    throw invalid('env', 'must be an object of strings or false', undefined)
  }
  const src: Source = { config, env }
  const timeUnit = timeUnitOf(src)
  const namespace = str(src, 'namespace') ?? 'app'
  try {
    validateNamespace(namespace)
  } catch (error) {
    throw invalid(
      'namespace',
      (error as Error).message,
      config.namespace === undefined ? ENV.namespace : undefined,
    )
  }
  const reset = envValue(env, ENV.breakerResetTimeout)
  let breakerResetTimeoutMs: number | undefined
  if (reset !== undefined) {
    try {
      breakerResetTimeoutMs = parseDuration(
        /^\d+(\.\d+)?$/.test(reset) ? Number(reset) : reset,
        'resetTimeout',
        timeUnit,
      )
    } catch {
      throw invalid(
        'breaker.resetTimeout',
        `must be ${timeUnit === 's' ? 'seconds' : 'milliseconds'} or a duration like '60s', got "${reset}"`,
        ENV.breakerResetTimeout,
      )
    }
  }
  return {
    namespace,
    timeUnit,
    redis: redisConfig(src),
    defaultTtlMs: ttlMs(src, timeUnit),
    maxMemorySize: memorySize(src),
    enableCacheWarming: bool(src, 'enableCacheWarming', true),
    cacheWarmingThreshold: int(src, 'cacheWarmingThreshold', 1, 255) ?? 10,
    enableMetrics: bool(src, 'enableMetrics', true),
    fallbackToDb: bool(src, 'fallbackToDb', true),
    fallbackDb: str(src, 'fallbackDb') ?? './.tiercache/cache.db',
    breakerResetTimeoutMs,
    ...busConfig(src),
  }
}

/** `us=redis://a:6379,ap=redis://b:6379` → `[{ region, url }]`. */
function parseRelayFrom(text: string): RelayConfig['from'] {
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const eq = part.indexOf('=')
      if (eq <= 0)
        throw invalid('relay', `expects region=url pairs, got "${part.slice(0, 40)}"`, ENV.relayFrom)
      return { region: part.slice(0, eq), url: part.slice(eq + 1) }
    })
}

function busConfig(src: Source): Pick<ResolvedConfig, 'busMode' | 'busRetention' | 'relay'> {
  let relay: RelayConfig | undefined
  if (src.config.relay != null) {
    const r = src.config.relay
    if (typeof r !== 'object' || typeof r.region !== 'string' || !Array.isArray(r.from)) {
      throw invalid('relay', 'must be { region, from: [{ region, url }] }', undefined)
    }
    relay = { region: r.region, from: r.from.map((f) => ({ region: f.region, url: f.url })) }
  } else {
    const region = envValue(src.env, ENV.region)
    const from = envValue(src.env, ENV.relayFrom)
    if (region !== undefined && from !== undefined) relay = { region, from: parseRelayFrom(from) }
  }
  const mode = src.config.busMode ?? envValue(src.env, ENV.busMode) ?? (relay ? 'stream' : 'pubsub')
  if (mode !== 'pubsub' && mode !== 'stream') {
    throw invalid(
      'busMode',
      `must be 'pubsub' or 'stream', got ${JSON.stringify(mode)}`,
      src.config.busMode === undefined ? ENV.busMode : undefined,
    )
  }
  if (relay && mode !== 'stream') throw invalid('busMode', "must be 'stream' with a relay", undefined)
  const retention = int(src, 'busRetention', 1, 1_000_000_000) ?? 100_000
  return { busMode: mode, busRetention: retention, relay }
}
