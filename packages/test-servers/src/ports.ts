import { createServer } from 'node:net'

/**
 * Finds a free TCP port on the loopback interface by binding port 0 and closing the socket.
 * Another process may take the port before you bind it; {@link startRedis} retries with a new
 * port when that happens.
 *
 * @param host - interface to probe
 * @default host '127.0.0.1'
 * @returns a port number
 */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => (port ? resolve(port) : reject(new Error('could not find a free port'))))
    })
  })
}
