import { spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'
import {
  freePort,
  makeTlsCertificates,
  type RedisServer,
  redisCommand,
  startProxy,
  startRedis,
  startRedisCluster,
  startRedisSentinel,
} from '../src/index.js'

const servers: { stop(): Promise<void> }[] = []
afterAll(() => Promise.all(servers.map((s) => s.stop())))

async function started<T extends { stop(): Promise<void> }>(p: Promise<T>): Promise<T> {
  const s = await p
  servers.push(s)
  return s
}

async function refused(port: number): Promise<boolean> {
  try {
    await redisCommand({ port, timeout: 500 }, 'PING')
    return false
  } catch (e) {
    return /ECONNREFUSED|closed early/.test(String(e))
  }
}

describe('startRedis', () => {
  test('runs a private server with persistence off, and kills, pauses and restarts it', async () => {
    const server = await started(startRedis())
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
    expect(existsSync(server.dir)).toBe(true)
    expect(await server.command('CONFIG', 'GET', 'save')).toEqual(['save', ''])
    expect(await server.command('CONFIG', 'GET', 'appendonly')).toEqual(['appendonly', 'no'])
    expect(await server.command('SET', 'k', 'v')).toBe('OK')

    server.pause()
    expect(server.paused).toBe(true)
    await expect(redisCommand({ port: server.port, timeout: 200 }, 'PING')).rejects.toThrow(/did not answer/)
    server.resume()
    expect(await server.command('PING')).toBe('PONG')

    const pid = server.pid
    await server.kill()
    expect(server.running).toBe(false)
    expect(await refused(server.port)).toBe(true)
    await server.restart()
    expect(server.pid).not.toBe(pid)
    expect(await server.command('GET', 'k')).toBe(null)

    await server.stop()
    await server.stop()
    expect(existsSync(server.dir)).toBe(false)
    expect(await refused(server.port)).toBe(true)
    await expect(server.restart()).rejects.toThrow(/stopped/)
  })

  test('a port served by someone else is an error, never a silent success', async () => {
    const first = await started(startRedis())
    await expect(startRedis({ port: first.port, readyTimeout: 3000 })).rejects.toThrow(
      /Address already in use|another process/,
    )
  })

  test('freePort gives a port nobody listens on', async () => {
    const port = await freePort()
    expect(port).toBeGreaterThan(0)
    expect(await refused(port)).toBe(true)
  })

  test('ACL: the default user is off; the ACL user gets in', async () => {
    const server = await started(startRedis({ acl: { username: 'u', password: 'p' } }))
    await expect(redisCommand({ port: server.port }, 'GET', 'x')).rejects.toThrow(/NOAUTH/)
    await expect(
      redisCommand({ port: server.port, auth: { username: 'u', password: 'bad' } }, 'PING'),
    ).rejects.toThrow(/WRONGPASS/)
    expect(await server.command('ACL', 'WHOAMI')).toBe('u')
  })
})

describe('TLS', () => {
  test('makeTlsCertificates writes a CA, a server and a client certificate', async () => {
    const certs = await makeTlsCertificates()
    for (const f of [
      certs.caFile,
      certs.certFile,
      certs.keyFile,
      certs.clientCertFile,
      certs.clientKeyFile,
    ]) {
      expect(readFileSync(f, 'utf8')).toMatch(/-----BEGIN /)
    }
    expect(certs.ca).toMatch(/BEGIN CERTIFICATE/)
  })

  test('a TLS server answers over TLS with the right CA only', async () => {
    const server = await started(startRedis({ tls: true }))
    const other = await makeTlsCertificates()
    expect(server.url).toBe(`rediss://localhost:${server.port}`)
    expect(await server.command('PING')).toBe('PONG')
    await expect(redisCommand({ port: server.port, tls: { ca: other.ca } }, 'PING')).rejects.toThrow(
      /certificate/,
    )
    await expect(redisCommand({ port: server.port, timeout: 500 }, 'PING')).rejects.toThrow()
  })

  test('with clientAuth the server requires the client certificate', async () => {
    const server = await started(startRedis({ tls: { clientAuth: true } }))
    expect(await server.command('PING')).toBe('PONG')
    await expect(
      redisCommand({ port: server.port, tls: { ca: server.certificates!.ca } }, 'PING'),
    ).rejects.toThrow()
  })
})

describe('startRedisCluster and startRedisSentinel', () => {
  test('a 3-master cluster covers every slot; a restarted node rejoins with its id', async () => {
    const cluster = await started(startRedisCluster({ masters: 3 }))
    expect(cluster.nodes).toHaveLength(3)
    expect(cluster.slots).toEqual([
      [0, 5460],
      [5461, 10921],
      [10922, 16383],
    ])
    for (const node of cluster.nodes) {
      expect(String(await node.command('CLUSTER', 'INFO'))).toMatch(/cluster_state:ok/)
    }
    const node: RedisServer = cluster.nodes[2]!
    const id = await node.command('CLUSTER', 'MYID')
    await node.restart()
    expect(await node.command('CLUSTER', 'MYID')).toBe(id)
    await cluster.waitHealthy()
  })

  test('a Sentinel knows its master', async () => {
    const master = await started(startRedis())
    const sentinel = await started(startRedisSentinel({ master }))
    expect(
      await redisCommand({ port: sentinel.port }, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster'),
    ).toEqual(['127.0.0.1', String(master.port)])
  })
})

describe('cleanup', () => {
  test('servers die with the process that started them, even when it is SIGKILLed', async () => {
    const fixture = join(import.meta.dirname, 'fixtures', 'orphan.mjs')
    if (!existsSync(join(import.meta.dirname, '..', 'dist', 'index.js'))) {
      throw new Error('packages/test-servers/dist is missing: run `pnpm build` first')
    }
    const child = spawn(process.execPath, [fixture], { stdio: ['ignore', 'pipe', 'inherit'] })
    const line = await new Promise<string>((resolve, reject) => {
      let out = ''
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString()
        if (out.includes('\n')) resolve(out.split('\n')[0]!)
      })
      child.once('exit', (code) => reject(new Error(`fixture exited with ${code}`)))
    })
    const { ports, dirs } = JSON.parse(line) as { ports: number[]; dirs: string[] }
    for (const port of ports) expect(await refused(port)).toBe(false)
    child.kill('SIGKILL')
    const deadline = Date.now() + 5000
    for (;;) {
      const states = await Promise.all(ports.map(refused))
      if (states.every(Boolean) && dirs.every((d) => !existsSync(d))) break
      if (Date.now() > deadline) throw new Error(`servers still answer after their parent died: ${states}`)
      await new Promise((r) => setTimeout(r, 50))
    }
  })
})

describe('startProxy', () => {
  test('forwards with the added latency each way, cuts and heals the link', async () => {
    const server = await started(startRedis())
    const proxy = await startProxy({ target: { port: server.port }, latency: 30 })
    try {
      const t0 = performance.now()
      expect(await redisCommand({ port: proxy.port }, 'PING')).toBe('PONG')
      // One round trip crosses the link twice.
      expect(performance.now() - t0).toBeGreaterThanOrEqual(59)
      proxy.cutLink()
      expect(proxy.cut).toBe(true)
      await expect(redisCommand({ port: proxy.port, timeout: 1000 }, 'PING')).rejects.toThrow()
      proxy.heal()
      proxy.setLatency(0)
      expect(await redisCommand({ port: proxy.port }, 'PING')).toBe('PONG')
    } finally {
      await proxy.close()
    }
  })
})
