import { createConnection, createServer, type Server, type Socket } from 'node:net'

/** A TCP proxy to a Redis server that can add latency in both directions. */
export interface LatencyProxy {
  /** `redis://127.0.0.1:<port>` of the proxy. */
  readonly url: string
  /** Current added latency per direction, in milliseconds. */
  latency: number
  /** Resolves once every byte delayed so far has been forwarded. */
  drained(): Promise<void>
  /** Closes the proxy and every connection through it. */
  close(): Promise<void>
}

/**
 * Forwards bytes in order, each chunk released `latency` ms after it arrived. Lowering the
 * latency never lets a later chunk overtake an earlier one: a chunk waits for those before it.
 */
function delayedPipe(
  from: Socket,
  to: Socket,
  proxy: { latency: number },
  queues: Set<readonly unknown[]>,
): void {
  const queue: { at: number; chunk: Buffer }[] = []
  queues.add(queue)
  let timer: ReturnType<typeof setTimeout> | undefined
  const pump = (): void => {
    timer = undefined
    const now = Date.now()
    while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
      const { chunk } = queue.shift() as { chunk: Buffer }
      if (!to.destroyed) to.write(chunk)
    }
    if (queue.length > 0) timer = setTimeout(pump, (queue[0] as { at: number }).at - now)
  }
  from.on('data', (chunk: Buffer) => {
    if (proxy.latency <= 0 && queue.length === 0) {
      to.write(chunk)
      return
    }
    queue.push({ at: Date.now() + proxy.latency, chunk })
    if (timer === undefined)
      timer = setTimeout(pump, Math.max(0, (queue[0] as { at: number }).at - Date.now()))
  })
  const stop = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    queue.length = 0
    queues.delete(queue)
    to.destroy()
  }
  from.on('close', stop)
  from.on('error', stop)
}

/**
 * Starts a proxy on a free loopback port in front of `host:port`.
 *
 * @param target - the Redis server to forward to
 */
export async function startLatencyProxy(target: { host: string; port: number }): Promise<LatencyProxy> {
  const sockets = new Set<Socket>()
  const state = { latency: 0 }
  const queues = new Set<readonly unknown[]>()
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: target.host, port: target.port })
    sockets.add(client)
    sockets.add(upstream)
    client.on('close', () => sockets.delete(client))
    upstream.on('close', () => sockets.delete(upstream))
    delayedPipe(client, upstream, state, queues)
    delayedPipe(upstream, client, state, queues)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('proxy has no port')
  return {
    url: `redis://127.0.0.1:${address.port}`,
    get latency() {
      return state.latency
    },
    set latency(ms: number) {
      state.latency = ms
    },
    drained: async () => {
      while ([...queues].some((q) => q.length > 0)) await new Promise((resolve) => setTimeout(resolve, 5))
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}
