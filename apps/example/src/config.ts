import { resolve } from 'node:path'

/** The service's own settings. The cache reads `TIERCACHE_*` and `REDIS_URL` itself. */
export interface AppConfig {
  /** `PORT`; 0 picks a free port (printed on the ready line). @default 3000 */
  readonly port: number
  /** `HOST`. @default '127.0.0.1' */
  readonly host: string
  /** `DATABASE_PATH`: the source-of-truth SQLite file. @default './.tiercache/keywords.db' */
  readonly databasePath: string
  /** `KEYWORDS_COUNT`: rows seeded on first start. @default 200_000 */
  readonly keywordsCount: number
  /**
   * `SEARCH_WORKERS`: worker threads that run searches (each a full table scan) off the event
   * loop; 0 runs them on the main thread.
   * @default 2
   */
  readonly searchWorkers: number
  /** `CACHE=off` bypasses every cache (the load test's baseline). @default true */
  readonly cache: boolean
  /** `LOG_LEVEL`: `debug`, `info`, `warn` or `error`. @default 'info' */
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error'
}

function fail(message: string): never {
  throw new Error(`configuration: ${message}`)
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim()
  if (raw === undefined || raw === '') return fallback
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max)
    fail(`${name} must be an integer from ${min} to ${max}, got "${raw}"`)
  return n
}

/** Reads the settings from the environment; throws on a wrong value. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const cacheRaw = (env.CACHE ?? 'on').trim().toLowerCase()
  if (!['on', 'off', 'true', 'false', '1', '0'].includes(cacheRaw))
    fail(`CACHE must be on or off, got "${env.CACHE}"`)
  const logLevel = (env.LOG_LEVEL ?? 'info').trim().toLowerCase()
  if (logLevel !== 'debug' && logLevel !== 'info' && logLevel !== 'warn' && logLevel !== 'error') {
    fail(`LOG_LEVEL must be debug, info, warn or error, got "${env.LOG_LEVEL}"`)
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    host: env.HOST?.trim() || '127.0.0.1',
    databasePath: resolve(env.DATABASE_PATH?.trim() || './.tiercache/keywords.db'),
    keywordsCount: integer(env, 'KEYWORDS_COUNT', 200_000, 1, 10_000_000),
    searchWorkers: integer(env, 'SEARCH_WORKERS', 2, 0, 64),
    cache: cacheRaw === 'on' || cacheRaw === 'true' || cacheRaw === '1',
    logLevel,
  }
}
