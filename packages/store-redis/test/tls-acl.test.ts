import { defaultSerializer, isTierCacheError } from '@tiercache/core'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { uniquePrefix } from '@tiercache/test-kit'
import {
  makeTlsCertificates,
  type RedisServer,
  redisCommand,
  startRedis,
  type TlsCertificates,
} from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'
import { type RedisStore, redisStore } from '../src/index.js'
import { withAcl, withTls } from './examples/connections.js'
import { entry, FORBIDDEN_COMMANDS } from './helpers.js'

let tlsServer: RedisServer
let mtlsServer: RedisServer
let aclServer: RedisServer
let wrongCa: TlsCertificates

beforeAll(async () => {
  ;[tlsServer, mtlsServer, aclServer, wrongCa] = await Promise.all([
    startRedis({ tls: true, args: FORBIDDEN_COMMANDS }),
    startRedis({ tls: { clientAuth: true } }),
    startRedis({ acl: { username: 'cache', password: 's3cret-pass' } }),
    makeTlsCertificates(),
  ])
})
afterAll(() => Promise.all([tlsServer?.stop(), mtlsServer?.stop(), aclServer?.stop()]))

/** Runs one `get` and returns the error it fails with. */
async function failure(store: RedisStore): Promise<Error & { code?: string; cause?: unknown }> {
  try {
    await store.get('k:1')
  } catch (e) {
    return e as Error
  } finally {
    await store.close()
  }
  throw new Error('expected the call to fail')
}

runStoreSuite({
  describe,
  test,
  expect,
  create: () =>
    redisStore({ url: tlsServer.url, tls: { ca: tlsServer.certificates!.ca }, prefix: uniquePrefix('tls') }),
  ttlGranularity: 50,
  name: 'redisStore conformance (TLS)',
})

describe('TLS', () => {
  test('rediss:// with the right CA works; the connection really is TLS', async () => {
    const store = redisStore({
      url: tlsServer.url,
      tls: { ca: tlsServer.certificates!.ca },
      prefix: uniquePrefix(),
    })
    try {
      await store.set('a:1', entry('secure'))
      expect(defaultSerializer.deserialize((await store.get('a:1'))!.value)).toBe('secure')
      // A plain-text client gets nowhere on that port.
      await expect(redisCommand({ port: tlsServer.port, timeout: 500 }, 'PING')).rejects.toThrow()
    } finally {
      await store.close()
    }
  })

  test('the wrong CA fails with a clear StoreError naming the certificate problem', async () => {
    const started = Date.now()
    const err = await failure(
      redisStore({
        url: tlsServer.url,
        tls: { ca: wrongCa.ca },
        prefix: uniquePrefix(),
        commandTimeout: 2000,
      }),
    )
    expect(isTierCacheError(err, 'E_STORE')).toBe(true)
    expect(err.message).toMatch(/Redis is not reachable: .*certificate/i)
    expect((err.cause as { code?: string }).code).toMatch(/CERT|SIGNATURE|ISSUER/)
    expect(Date.now() - started).toBeLessThan(2000)
  })

  test('a server requiring client certificates accepts ours and refuses a client without one', async () => {
    const certs = mtlsServer.certificates!
    const good = withTls(
      mtlsServer.url,
      { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey },
      uniquePrefix(),
    )
    try {
      await good.set('a:1', entry(1))
      expect(await good.has('a:1')).toBe(true)
    } finally {
      await good.close()
    }
    const err = await failure(
      redisStore({ url: mtlsServer.url, tls: { ca: certs.ca }, prefix: uniquePrefix() }),
    )
    expect(isTierCacheError(err)).toBe(true)
    expect(err.message).toMatch(/Redis is not reachable|not connected|timed out/)
  })

  test('rejectUnauthorized: false connects despite an unknown CA', async () => {
    const store = redisStore({
      url: tlsServer.url,
      tls: { ca: wrongCa.ca, rejectUnauthorized: false },
      prefix: uniquePrefix(),
    })
    try {
      await store.set('a:1', entry(1))
      expect(await store.has('a:1')).toBe(true)
    } finally {
      await store.close()
    }
  })
})

describe('ACL', () => {
  test('username + password from options (or the URL) authenticate', async () => {
    const { username, password } = aclServer.acl!
    for (const store of [
      withAcl(aclServer.url, username, password, uniquePrefix('acl')),
      redisStore({
        url: `redis://${username}:${encodeURIComponent(password)}@127.0.0.1:${aclServer.port}/2`,
        prefix: uniquePrefix('acl'),
      }),
    ]) {
      try {
        await store.set('a:1', entry('ok'))
        expect(defaultSerializer.deserialize((await store.get('a:1'))!.value)).toBe('ok')
      } finally {
        await store.close()
      }
    }
    // db: 2 and the URL's /2 selected database 2.
    const keyspace = String(await aclServer.command('INFO', 'keyspace'))
    expect(keyspace).toMatch(/db2:keys=2/)
  })

  test('a wrong password gives a clear authentication error', async () => {
    const err = await failure(
      redisStore({ url: aclServer.url, username: 'cache', password: 'wrong', prefix: uniquePrefix() }),
    )
    expect(isTierCacheError(err, 'E_STORE')).toBe(true)
    expect(err.message).toMatch(/WRONGPASS/)
  })

  test('no credentials gives a clear NOAUTH error', async () => {
    const err = await failure(redisStore({ url: aclServer.url, prefix: uniquePrefix() }))
    expect(isTierCacheError(err, 'E_STORE')).toBe(true)
    expect(err.message).toMatch(/NOAUTH|Authentication required/i)
  })
})
