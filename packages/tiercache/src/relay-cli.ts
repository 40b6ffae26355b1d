#!/usr/bin/env node
/**
 * `tiercache-relay`: copies invalidations from other regions into this region, in one command.
 *
 * ```sh
 * tiercache-relay --region eu --redis redis://eu-cache:6379 \
 *   --from us=redis://us-cache:6379 --from ap=redis://ap-cache:6379
 * ```
 *
 * Options (environment variables in brackets): `--region` [TIERCACHE_REGION], `--redis`
 * [TIERCACHE_REDIS_URL, REDIS_URL], `--from region=url` repeated or comma-separated
 * [TIERCACHE_RELAY_FROM], `--prefix` [TIERCACHE_REDIS_PREFIX, default `tc:`], `--retention`
 * entries [TIERCACHE_BUS_RETENTION, default 100000], `--stats-every` seconds (default 60, 0 for
 * none). Stops on SIGINT/SIGTERM after the entry in progress.
 *
 * @module
 */
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { isTierCacheError } from '@tiercache/core'
import { regionRelay } from '@tiercache/store-redis'

/**
 * Runs the relay command with `argv` (without `node` and the script).
 *
 * @param argv - command-line arguments
 * @param env - environment variables
 * @returns a function that stops the relay
 */
export async function runRelay(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<() => Promise<void>> {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      region: { type: 'string' },
      redis: { type: 'string' },
      from: { type: 'string', multiple: true },
      prefix: { type: 'string' },
      retention: { type: 'string' },
      'stats-every': { type: 'string' },
      help: { type: 'boolean' },
    },
  })
  const region = values.region ?? env.TIERCACHE_REGION
  const redis = values.redis ?? env.TIERCACHE_REDIS_URL ?? env.REDIS_URL
  const fromText = values.from?.join(',') ?? env.TIERCACHE_RELAY_FROM ?? ''
  if (values.help || !region || !redis || !fromText) {
    throw new Error(
      'usage: tiercache-relay --region <name> --redis <redis://this-region> --from <region>=<redis://url> [--from …] [--prefix tc:] [--retention 100000] [--stats-every 60]',
    )
  }
  const from = fromText
    .split(',')
    .filter(Boolean)
    .map((pair) => {
      const eq = pair.indexOf('=')
      if (eq <= 0) throw new Error(`--from expects region=url, got "${pair}"`)
      return { region: pair.slice(0, eq), url: pair.slice(eq + 1) }
    })
  const retention = values.retention ?? env.TIERCACHE_BUS_RETENTION
  const relay = regionRelay({
    region,
    to: { url: redis },
    from,
    prefix: values.prefix ?? env.TIERCACHE_REDIS_PREFIX ?? 'tc:',
    ...(retention !== undefined ? { retention: { maxLen: Number(retention) } } : {}),
  })
  const every = Number(values['stats-every'] ?? 60)
  const timer =
    every > 0
      ? setInterval(() => console.log(JSON.stringify({ region, sources: relay.stats() })), every * 1000)
      : undefined
  timer?.unref()
  await relay.ready
  console.log(`tiercache-relay: region ${region} copying from ${from.map((f) => f.region).join(', ')}`)
  return async () => {
    clearInterval(timer)
    await relay.close()
  }
}

function invokedDirectly(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

const isMain = invokedDirectly()
if (isMain) {
  runRelay(process.argv.slice(2)).then(
    (stop) => {
      const shutdown = (): void => {
        void stop().then(() => process.exit(0))
      }
      process.once('SIGINT', shutdown)
      process.once('SIGTERM', shutdown)
    },
    (error: unknown) => {
      console.error(
        isTierCacheError(error) ? `${(error as Error).message}` : String((error as Error)?.message ?? error),
      )
      process.exit(2)
    },
  )
}
