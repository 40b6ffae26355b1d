import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { uniqueName, waitFor } from '@tiercache/test-kit'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { createDistributedCache, resolveConfig } from '../src/index.js'

let eu: RedisServer
let us: RedisServer
beforeAll(async () => {
  ;[eu, us] = await Promise.all([startRedis(), startRedis()])
})
afterAll(async () => {
  await Promise.all([eu?.stop(), us?.stop()])
})

const quiet = { logger: false, enableMetrics: false, fallbackToDb: false, env: false } as const

describe('regions in createDistributedCache', () => {
  test('busMode and relay are validated; a relay implies the stream bus', () => {
    expect(resolveConfig({ env: false }).busMode).toBe('pubsub')
    expect(resolveConfig({ env: { TIERCACHE_BUS_MODE: 'stream' } }).busMode).toBe('stream')
    const fromEnv = resolveConfig({
      env: { TIERCACHE_REGION: 'eu', TIERCACHE_RELAY_FROM: 'us=redis://u:6379,ap=redis://a:6379' },
    })
    expect(fromEnv.busMode).toBe('stream')
    expect(fromEnv.relay).toEqual({
      region: 'eu',
      from: [
        { region: 'us', url: 'redis://u:6379' },
        { region: 'ap', url: 'redis://a:6379' },
      ],
    })
    expect(() => resolveConfig({ env: false, busMode: 'kafka' as never })).toThrow(/busMode/)
    expect(() => resolveConfig({ env: false, busMode: 'pubsub', relay: { region: 'eu', from: [] } })).toThrow(
      /stream/,
    )
  })

  test('an instance with the relay role copies a delete from the other region into its own', async () => {
    const namespace = uniqueName('rg')
    const usCache = createDistributedCache({ ...quiet, namespace, redisUrl: us.url, busMode: 'stream' })
    const euCache = createDistributedCache({
      ...quiet,
      namespace,
      redisUrl: eu.url,
      relay: { region: 'eu', from: [{ region: 'us', url: us.url }] },
    })
    try {
      await Promise.all([usCache.ready(), euCache.ready(), euCache.relay?.ready])
      await euCache.set('k', 'eu value')
      expect(await euCache.get('k')).toBe('eu value')
      await usCache.delete('k')
      await waitFor(async () => (await euCache.get('k')) === undefined, 5000, 'the delete to reach eu')
      expect(euCache.relay?.stats()[0]).toMatchObject({ region: 'us', copied: 1 })
    } finally {
      await Promise.all([usCache.close(), euCache.close()])
    }
  })
})

describe('tiercache-relay', () => {
  test('one command relays a region; SIGTERM stops it', async () => {
    const namespace = uniqueName('cli')
    const cli = join(import.meta.dirname, '..', 'dist', 'relay-cli.js')
    const child = spawn(
      process.execPath,
      [cli, '--region', 'eu', '--redis', eu.url, '--from', `us=${us.url}`, '--stats-every', '0'],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    let out = ''
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString()
    })
    const usCache = createDistributedCache({ ...quiet, namespace, redisUrl: us.url, busMode: 'stream' })
    const euCache = createDistributedCache({ ...quiet, namespace, redisUrl: eu.url, busMode: 'stream' })
    try {
      await waitFor(() => out.includes('copying from us'), 10_000, 'the relay to start')
      await euCache.set('k', 1)
      await usCache.delete('k')
      await waitFor(async () => (await euCache.get('k')) === undefined, 5000, 'the delete to reach eu')
      const exited = new Promise<number | null>((r) => child.once('exit', r))
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    } finally {
      child.kill('SIGKILL')
      await Promise.all([usCache.close(), euCache.close()])
    }
  })

  test('without its settings it prints the usage and exits 2', async () => {
    const cli = join(import.meta.dirname, '..', 'dist', 'relay-cli.js')
    const child = spawn(process.execPath, [cli], { stdio: ['ignore', 'ignore', 'pipe'], env: {} })
    let err = ''
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString()
    })
    const code = await new Promise<number | null>((r) => child.once('exit', r))
    expect(code).toBe(2)
    expect(err).toMatch(/usage: tiercache-relay/)
  })
})
