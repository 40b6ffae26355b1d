import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { collectDefaultMetrics, Registry } from 'prom-client'
import { consoleLogger, createDistributedCache, type DistributedCache, setDefaultCache } from 'tiercache'
import { createApp } from './app.js'
import type { AppConfig } from './config.js'
import { openDatabase } from './database.js'
import { KeywordRepository } from './keyword-repository.js'
import { CachedKeywordService, DirectKeywordService } from './keyword-service.js'
import { SearchPool } from './search-pool.js'
import { seedKeywords } from './seed.js'

/** A started service. */
export interface RunningService {
  /** `http://host:port`. */
  readonly url: string
  readonly port: number
  readonly cache: DistributedCache | undefined
  /** Stops accepting requests, lets those in flight finish, then closes the cache (every tier) and the database. */
  close(): Promise<void>
}

const RANK = { debug: 0, info: 1, warn: 2, error: 3 } as const

/**
 * Opens (and on first start seeds) the database, composes the cache from the environment
 * (`TIERCACHE_*`, `REDIS_URL`: memory + SQLite when nothing is set), and starts the HTTP server.
 */
export async function startService(config: AppConfig): Promise<RunningService> {
  const log = (level: keyof typeof RANK, message: string): void => {
    if (RANK[level] < RANK[config.logLevel]) return
    if (level === 'error' || level === 'warn') console.error(message)
    else console.log(message)
  }

  const database = openDatabase(config.databasePath)
  let cache: DistributedCache | undefined
  let pool: SearchPool | undefined
  let server: Server | undefined
  try {
    const seed = seedKeywords(database, config.keywordsCount, process.stderr)
    if (!seed.seeded)
      log('info', `database ${config.databasePath}: ${seed.count.toLocaleString('en-US')} keywords`)

    const registry = new Registry()
    collectDefaultMetrics({ register: registry })
    if (config.cache) {
      cache = createDistributedCache({ registry, logger: consoleLogger(config.logLevel) })
      setDefaultCache(cache) // for @cached
      await cache.ready()
    }
    if (config.searchWorkers > 0) pool = new SearchPool(config.databasePath, config.searchWorkers)
    const searches = pool
    const repo = new KeywordRepository(
      database.db,
      searches === undefined ? undefined : (query, limit) => searches.search(query, limit),
    )
    const service =
      cache === undefined ? new DirectKeywordService(repo) : new CachedKeywordService(repo, cache)
    const app = createApp({ service, repo, database, cache, registry, keywordsCount: seed.count, log })

    server = createServer(app)
    server.listen(config.port, config.host)
    await once(server, 'listening')
  } catch (error) {
    await pool?.close().catch(() => {})
    await cache?.close().catch(() => {})
    await database.close().catch(() => {})
    throw error
  }

  const { port } = server.address() as AddressInfo
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`
  // The ready line, whatever the log level: scripts and tests wait for it.
  console.log(`listening on ${url} (${cache === undefined ? 'cache off' : `cache: ${cache.describe()}`})`)

  const running = server
  const workers = pool
  let closing: Promise<void> | undefined
  return {
    url,
    port,
    cache,
    close(): Promise<void> {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => running.close(() => resolve()))
        running.closeIdleConnections()
        const force = setTimeout(() => running.closeAllConnections(), 5000)
        await closed
        clearTimeout(force)
        await workers?.close()
        if (cache !== undefined) {
          await cache.close()
          setDefaultCache(undefined)
        }
        await database.close()
        log('info', 'closed: HTTP server, search workers, cache tiers, database')
      })()
      return closing
    },
  }
}
