import { defaultSerializer } from '@tiercache/core'
import type { RemoteEntry } from '@tiercache/core/store'
import type { RedisCluster } from '@tiercache/test-servers'
/** Commands the store must never send: disabled on every test server. */
export const FORBIDDEN_COMMANDS: readonly string[] = [
  '--rename-command',
  'KEYS',
  '',
  '--rename-command',
  'FLUSHDB',
  '',
  '--rename-command',
  'FLUSHALL',
  '',
]

/** A remote entry holding `value` (default serializer), fresh and kept for `ttl` ms from now. */
export function entry(value: unknown, ttl = 60_000): RemoteEntry {
  const now = Date.now()
  return {
    value: defaultSerializer.serialize(value),
    createdAt: now,
    freshUntil: now + ttl,
    staleUntil: now + ttl,
    tags: [],
  }
}

/** How many keys starting with `prefix` each master of `cluster` holds (SCAN on each node). */
export async function keysPerNode(cluster: RedisCluster, prefix: string): Promise<number[]> {
  return Promise.all(
    cluster.nodes.map(async (node) => {
      let cursor = '0'
      let n = 0
      do {
        const [next, keys] = (await node.command('SCAN', cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)) as [
          string,
          string[],
        ]
        cursor = next
        n += keys.length
      } while (cursor !== '0')
      return n
    }),
  )
}
