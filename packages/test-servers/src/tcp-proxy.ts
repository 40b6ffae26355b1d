import { connect, createServer, type Server, type Socket } from 'node:net'

/** Options for {@link startProxy}. */
export interface ProxyOptions {
  /** Where connections go. */
  readonly target: { readonly host?: string; readonly port: number }
  /** Delay added to every chunk in each direction, in milliseconds. @default 0 */
  readonly latency?: number
  /** Port to listen on. @default a free port */
  readonly port?: number
}

/** A running proxy. */
export interface TcpProxy {
  readonly host: string
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** Current one-way latency, in milliseconds. */
  readonly latency: number
  /** Whether the link is cut. */
  readonly cut: boolean
  /** Connections currently open through the proxy. */
  readonly connections: number
  /** Changes the one-way latency for chunks sent from now on. */
  setLatency(ms: number): void
  /**
   * Cuts the link: open connections are reset at once (the client sees them drop) and new ones
   * are accepted and reset until {@link TcpProxy.heal}. Data in flight is lost.
   */
  cutLink(): void
  /** Lets connections through again. */
  heal(): void
  /** Closes the proxy and every connection. */
  close(): Promise<void>
}

/**
 * A TCP proxy on 127.0.0.1 that adds a fixed latency each way and can cut the link: two
 * "regions" joined through it see a slow, partitionable network on one machine. Order within
 * a connection is kept (chunks leave in the order they came, each `latency` ms later).
 *
 * @param options - target, latency, port
 */
export async function startProxy(options: ProxyOptions): Promise<TcpProxy> {
  const host = '127.0.0.1'
  let latency = Math.max(0, options.latency ?? 0)
  let isCut = false
  const pairs = new Set<[Socket, Socket]>()

  /** Forwards `from` → `to` with the latency, keeping order. */
  function pipe(from: Socket, to: Socket): void {
    const queue: { at: number; chunk: Buffer }[] = []
    let timer: ReturnType<typeof setTimeout> | undefined
    const flush = (): void => {
      timer = undefined
      const now = performance.now()
      while (queue.length > 0 && (queue[0] as { at: number }).at <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer }
        if (!to.destroyed) to.write(chunk)
      }
      if (queue.length > 0) {
        timer = setTimeout(flush, Math.max(0, (queue[0] as { at: number }).at - performance.now()))
      }
    }
    from.on('data', (chunk: Buffer) => {
      if (latency === 0 && queue.length === 0) {
        if (!to.destroyed) to.write(chunk)
        return
      }
      queue.push({ at: performance.now() + latency, chunk })
      if (timer === undefined) timer = setTimeout(flush, latency)
    })
    from.on('close', () => {
      clearTimeout(timer)
      queue.length = 0
    })
  }

  const server: Server = createServer((client) => {
    client.on('error', () => {})
    client.setNoDelay(true)
    if (isCut) {
      client.resetAndDestroy()
      return
    }
    const upstream = connect({ host: options.target.host ?? '127.0.0.1', port: options.target.port })
    upstream.on('error', () => {})
    upstream.setNoDelay(true)
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    const end = (): void => {
      pairs.delete(pair)
      if (!client.destroyed) client.destroy()
      if (!upstream.destroyed) upstream.destroy()
    }
    client.on('error', end)
    upstream.on('error', end)
    client.on('close', end)
    upstream.on('close', end)
    pipe(client, upstream)
    pipe(upstream, client)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : 0
  return {
    host,
    port,
    url: `redis://${host}:${port}`,
    get latency() {
      return latency
    },
    get cut() {
      return isCut
    },
    get connections() {
      return pairs.size
    },
    setLatency(ms: number) {
      latency = Math.max(0, ms)
    },
    cutLink() {
      isCut = true
      for (const [client, upstream] of pairs) {
        client.resetAndDestroy()
        upstream.destroy()
      }
      pairs.clear()
    },
    heal() {
      isCut = false
    },
    close() {
      for (const [client, upstream] of pairs) {
        client.destroy()
        upstream.destroy()
      }
      pairs.clear()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
