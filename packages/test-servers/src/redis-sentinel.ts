import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { trackDir, untrackDir } from './reaper.js'
import { ManagedProcess, probeProcess, type RedisServer } from './redis-server.js'
import { type RespTarget, redisCommand } from './resp.js'

/** Options for {@link startRedisSentinel}. */
export interface RedisSentinelOptions {
  /** The master to monitor (a plain or ACL server from `startRedis`; TLS is not supported). */
  readonly master: RedisServer
  /** The master's name in Sentinel. @default 'mymaster' */
  readonly name?: string
  /** How many Sentinels must agree that the master is down before a failover. @default 1 */
  readonly quorum?: number
  /**
   * `down-after-milliseconds`: how long the master may not answer before this Sentinel
   * considers it down.
   * @default 5000
   */
  readonly downAfter?: number
  /**
   * `failover-timeout` in milliseconds: among other things, how long before a failed failover
   * is tried again.
   * @default Redis's own (180_000)
   */
  readonly failoverTimeout?: number
}

/** A Sentinel process started by {@link startRedisSentinel}. */
export interface RedisSentinel {
  /** Always `'127.0.0.1'`. */
  readonly host: string
  /** The Sentinel's port. */
  readonly port: number
  /** The monitored master's name. */
  readonly name: string
  /** `[{ host, port }]`: pass as ioredis `sentinels`. */
  readonly sentinels: readonly { readonly host: string; readonly port: number }[]
  /** Stops the Sentinel and removes its directory. Harmless to call twice. */
  stop(): Promise<void>
}

/**
 * Starts one Redis Sentinel (`redis-server <conf> --sentinel`) monitoring `master` (quorum 1
 * unless `quorum` says otherwise), and waits until it reports the master's address. Start
 * several on the same master for a Sentinel group: they find each other through the master.
 * The Sentinel rewrites its configuration file as it learns replicas, peers and failovers.
 *
 * @param options - the master, its name, the quorum and the failure detection timings
 * @example
 * ```ts
 * const master = await startRedis()
 * const sentinel = await startRedisSentinel({ master })
 * const client = new Redis({ sentinels: [...sentinel.sentinels], name: sentinel.name })
 * ```
 */
export async function startRedisSentinel(options: RedisSentinelOptions): Promise<RedisSentinel> {
  const name = options.name ?? 'mymaster'
  const { master } = options
  if (master.certificates) throw new Error('startRedisSentinel does not support TLS masters')
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-sentinel-'))
  trackDir(dir)
  const conf = join(dir, 'sentinel.conf')
  const lines = [
    `port ${port}`,
    'bind 127.0.0.1',
    'protected-mode no',
    `dir ${dir}`,
    `sentinel monitor ${name} 127.0.0.1 ${master.port} ${options.quorum ?? 1}`,
    `sentinel down-after-milliseconds ${name} ${options.downAfter ?? 5000}`,
  ]
  if (options.failoverTimeout !== undefined) {
    lines.push(`sentinel failover-timeout ${name} ${options.failoverTimeout}`)
  }
  if (master.acl) {
    lines.push(
      `sentinel auth-user ${name} ${master.acl.username}`,
      `sentinel auth-pass ${name} ${master.acl.password}`,
    )
  }
  writeFileSync(conf, `${lines.join('\n')}\n`)
  const target: RespTarget = { port }
  const proc = new ManagedProcess(
    'redis-server',
    () => [conf, '--sentinel'],
    async (pid) => {
      await probeProcess(target, pid)
      const addr = await redisCommand(target, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name)
      if (!Array.isArray(addr) || Number(addr[1]) !== master.port)
        throw new Error('sentinel does not know the master yet')
    },
    10_000,
  )
  try {
    await proc.start()
  } catch (e) {
    rmSync(dir, { recursive: true, force: true })
    untrackDir(dir)
    throw e
  }
  let removed = false
  return {
    host: '127.0.0.1',
    port,
    name,
    sentinels: [{ host: '127.0.0.1', port }],
    stop: async () => {
      await proc.stop()
      if (!removed) {
        removed = true
        rmSync(dir, { recursive: true, force: true })
        untrackDir(dir)
      }
    },
  }
}
