import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { trackDir, untrackDir } from './reaper.js'
import { baseArgs, ManagedProcess, probeProcess, type RedisServer, serverHandle } from './redis-server.js'
import { type RespTarget, redisCommand } from './resp.js'
import { makeTlsCertificates, type TlsCertificates } from './tls.js'

/** Options for {@link startRedisCluster}. */
export interface RedisClusterOptions {
  /** Number of master nodes; the 16,384 slots are split evenly between them. @default 3 */
  readonly masters?: number
  /**
   * `cluster-node-timeout` in milliseconds: how long a node may be unreachable before the
   * others mark it failed (and, with full coverage required, the cluster refuses commands).
   * @default 5000
   */
  readonly nodeTimeout?: number
  /** Extra `redis-server` arguments for every node. @default [] */
  readonly args?: readonly string[]
  /** How long to wait for the cluster to report `cluster_state:ok`, in milliseconds. @default 20_000 */
  readonly readyTimeout?: number
  /**
   * Serve TLS only, clients and the cluster bus alike (`tls-port`, `tls-cluster yes`, plain
   * `port 0`), every node with the same certificates. `true` makes fresh ones. Clients must
   * trust `certificates.ca`; nodes announce themselves as `127.0.0.1`, which the certificate
   * names. @default false
   */
  readonly tls?: boolean | { readonly certificates: TlsCertificates }
}

/** A Redis Cluster started by {@link startRedisCluster}. */
export interface RedisCluster {
  /** The master nodes, in slot order (node 0 serves the lowest slots). */
  readonly nodes: readonly RedisServer[]
  /** `{ host, port }` of every node: pass to `new Cluster(startupNodes)`. */
  readonly startupNodes: readonly { readonly host: string; readonly port: number }[]
  /** The slot range `[first, last]` each node serves, by node index. */
  readonly slots: readonly (readonly [number, number])[]
  /** The certificates, for a TLS cluster. */
  readonly certificates: TlsCertificates | undefined
  /** Resolves when every running node reports `cluster_state:ok` and knows every node. */
  waitHealthy(timeout?: number): Promise<void>
  /** Stops every node and removes their directories. Harmless to call twice. */
  stop(): Promise<void>
}

const SLOTS = 16_384

function parseInfo(text: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':')
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1)
  }
  return out
}

/**
 * Starts a Redis Cluster of `masters` nodes (no replicas) as child processes on free loopback
 * ports: `cluster-enabled yes`, slots assigned with `CLUSTER ADDSLOTSRANGE`, nodes joined with
 * `CLUSTER MEET`, then waits until every node reports `cluster_state:ok`. A node restarted with
 * {@link RedisServer.restart} keeps its node id and slots (its `nodes.conf` survives) and rejoins;
 * its data is gone (persistence is off). With `tls` every node serves TLS only, the cluster bus
 * included.
 *
 * @param options - node count, node timeout, TLS and extra arguments
 * @example
 * ```ts
 * const cluster = await startRedisCluster({ masters: 3 })
 * afterAll(() => cluster.stop())
 * const client = new Cluster([...cluster.startupNodes])
 * ```
 */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3
  if (!Number.isInteger(masters) || masters < 1) throw new RangeError('masters must be a positive integer')
  const nodeTimeout = options.nodeTimeout ?? 5000
  const readyTimeout = options.readyTimeout ?? 20_000
  const certificates =
    options.tls === true ? await makeTlsCertificates() : options.tls ? options.tls.certificates : undefined
  const tlsArgs = certificates
    ? [
        '--tls-port',
        '',
        '--tls-cluster',
        'yes',
        '--tls-cert-file',
        certificates.certFile,
        '--tls-key-file',
        certificates.keyFile,
        '--tls-ca-cert-file',
        certificates.caFile,
        '--tls-auth-clients',
        'no',
      ]
    : []
  const slots: [number, number][] = []
  for (let i = 0; i < masters; i++) {
    slots.push([Math.floor((i * SLOTS) / masters), Math.floor(((i + 1) * SLOTS) / masters) - 1])
  }

  const nodes: RedisServer[] = []
  const busPorts: number[] = []
  const targets: RespTarget[] = []
  let stopped = false

  const healthy = async (timeout: number): Promise<void> => {
    const deadline = Date.now() + timeout
    let problem = ''
    for (;;) {
      problem = ''
      for (const [i, node] of nodes.entries()) {
        if (!node.running) continue
        try {
          const info = parseInfo(
            String(await redisCommand({ ...targets[i]!, timeout: 1000 }, 'CLUSTER', 'INFO')),
          )
          if (info.cluster_state !== 'ok') problem = `node ${i}: cluster_state ${info.cluster_state}`
          else if (Number(info.cluster_known_nodes) !== masters)
            problem = `node ${i}: knows ${info.cluster_known_nodes} nodes`
          else if (Number(info.cluster_slots_ok) !== SLOTS)
            problem = `node ${i}: ${info.cluster_slots_ok} slots ok`
          else {
            const view = (await redisCommand(targets[i]!, 'CLUSTER', 'SLOTS')) as unknown[]
            if (view.length !== masters) problem = `node ${i}: sees ${view.length} slot ranges`
          }
        } catch (e) {
          problem = `node ${i}: ${String(e)}`
        }
        if (problem) break
      }
      if (!problem) return
      if (Date.now() > deadline) {
        throw new Error(`the cluster did not become healthy within ${timeout}ms: ${problem}`)
      }
      await new Promise((r) => setTimeout(r, 50))
    }
  }

  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    await Promise.all(nodes.map((n) => n.stop()))
  }

  try {
    await Promise.all(
      slots.map(async (_, i) => {
        for (let attempt = 0; ; attempt++) {
          const [port, busPort] = [await freePort(), await freePort()]
          const dir = mkdtempSync(join(tmpdir(), 'tiercache-redis-cluster-'))
          trackDir(dir)
          const target: RespTarget = certificates ? { port, tls: { ca: certificates.ca } } : { port }
          const proc = new ManagedProcess(
            'redis-server',
            () => [
              ...baseArgs(certificates ? 0 : port, dir),
              ...tlsArgs.map((a, k) => (k === 1 ? String(port) : a)),
              '--cluster-enabled',
              'yes',
              '--cluster-config-file',
              join(dir, 'nodes.conf'),
              '--cluster-node-timeout',
              String(nodeTimeout),
              '--cluster-port',
              String(busPort),
              '--cluster-announce-ip',
              '127.0.0.1',
              ...(options.args ?? []),
            ],
            (pid) => probeProcess(target, pid),
            10_000,
          )
          try {
            await proc.start()
          } catch (e) {
            rmSync(dir, { recursive: true, force: true })
            untrackDir(dir)
            if (attempt < 4 && /Address already in use|another process/i.test(String(e))) continue
            throw e
          }
          nodes[i] = serverHandle({
            proc,
            port,
            dir,
            target,
            certificates,
            afterRestart: () => healthy(readyTimeout),
          })
          busPorts[i] = busPort
          targets[i] = target
          return
        }
      }),
    )
    for (const [i, [first, last]] of slots.entries()) {
      await redisCommand(targets[i]!, 'CLUSTER', 'SET-CONFIG-EPOCH', i + 1)
      await redisCommand(targets[i]!, 'CLUSTER', 'ADDSLOTSRANGE', first, last)
    }
    for (let i = 1; i < masters; i++) {
      await redisCommand(targets[0]!, 'CLUSTER', 'MEET', '127.0.0.1', targets[i]!.port, busPorts[i]!)
    }
    await healthy(readyTimeout)
  } catch (e) {
    await Promise.all(nodes.filter(Boolean).map((n) => n.stop()))
    throw e
  }

  return {
    nodes,
    startupNodes: nodes.map((n) => ({ host: n.host, port: n.port })),
    slots,
    certificates,
    waitHealthy: (timeout = readyTimeout) => healthy(timeout),
    stop,
  }
}
