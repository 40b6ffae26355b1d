import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isTierCacheError } from '@tiercache/core'
import { tempDir } from '@tiercache/test-kit'
import { describe, expect, test } from 'vitest'
import { CacheConfig, CONFIG_FIELDS, parseSize, resolveConfig } from '../src/index.js'

/** The error thrown by `fn`, checked to be an InvalidOptionError naming `option`. */
function optionError(fn: () => unknown, option: string): Error {
  try {
    fn()
  } catch (error) {
    expect(isTierCacheError(error, 'E_INVALID_OPTION'), String(error)).toBe(true)
    expect((error as { option?: string }).option).toBe(option)
    return error as Error
  }
  throw new Error('expected an InvalidOptionError')
}

describe('defaults', () => {
  test('with nothing set: embedded, the seed defaults, TTL converted to milliseconds', () => {
    const c = resolveConfig({ env: {} })
    expect(c).toEqual({
      namespace: 'app',
      timeUnit: 's',
      redis: undefined,
      defaultTtlMs: 3_600_000,
      maxMemorySize: 104_857_600,
      enableCacheWarming: true,
      cacheWarmingThreshold: 10,
      enableMetrics: true,
      fallbackToDb: true,
      fallbackDb: './.tiercache/cache.db',
      breakerResetTimeoutMs: undefined,
      busMode: 'pubsub',
      busRetention: 100_000,
      relay: undefined,
    })
  })

  test('env: false ignores the process environment', () => {
    const previous = process.env.TIERCACHE_NAMESPACE
    process.env.TIERCACHE_NAMESPACE = 'from-process'
    try {
      expect(resolveConfig({ env: false }).namespace).toBe('app')
      expect(resolveConfig({}).namespace).toBe('from-process')
    } finally {
      if (previous === undefined) delete process.env.TIERCACHE_NAMESPACE
      else process.env.TIERCACHE_NAMESPACE = previous
    }
  })
})

describe('seed fields in camelCase', () => {
  test('every field', () => {
    const c = resolveConfig({
      env: {},
      redisHost: 'cache.internal',
      redisPort: 6380,
      redisDb: 2,
      redisPassword: 's3cret',
      redisSsl: true,
      redisSslCertReqs: 'none',
      defaultTtl: 300,
      maxMemorySize: '64mb',
      enableCacheWarming: false,
      cacheWarmingThreshold: 3,
      enableMetrics: false,
      fallbackToDb: false,
    })
    expect(c.redis).toMatchObject({
      url: undefined,
      host: 'cache.internal',
      port: 6380,
      db: 2,
      password: 's3cret',
      tls: true,
      rejectUnauthorized: false,
      where: 'cache.internal:6380/2',
    })
    expect(c.defaultTtlMs).toBe(300_000)
    expect(c.maxMemorySize).toBe(64 * 2 ** 20)
    expect(c.enableCacheWarming).toBe(false)
    expect(c.cacheWarmingThreshold).toBe(3)
    expect(c.enableMetrics).toBe(false)
    expect(c.fallbackToDb).toBe(false)
  })

  test('defaultTtl: numbers and digit strings are seconds, other strings are durations', () => {
    expect(resolveConfig({ env: {}, defaultTtl: 1.5 }).defaultTtlMs).toBe(1500)
    expect(resolveConfig({ env: {}, defaultTtl: '90' }).defaultTtlMs).toBe(90_000)
    expect(resolveConfig({ env: {}, defaultTtl: '1h30m' }).defaultTtlMs).toBe(5_400_000)
    expect(resolveConfig({ env: {}, defaultTtl: '250ms' }).defaultTtlMs).toBe(250)
    expect(resolveConfig({ env: {}, defaultTtl: 'forever' }).defaultTtlMs).toBe(Number.POSITIVE_INFINITY)
    expect(resolveConfig({ env: {}, defaultTtl: Number.POSITIVE_INFINITY }).defaultTtlMs).toBe(
      Number.POSITIVE_INFINITY,
    )
    for (const bad of [0, -1, Number.NaN, '', 'soon', '-5']) {
      optionError(() => resolveConfig({ env: {}, defaultTtl: bad }), 'defaultTtl')
    }
  })

  test('redisPort alone turns Redis on at 127.0.0.1', () => {
    expect(resolveConfig({ env: {}, redisPort: 7000 }).redis).toMatchObject({
      host: '127.0.0.1',
      port: 7000,
      where: '127.0.0.1:7000/0',
    })
  })

  test('redisUrl, with rediss:// meaning TLS and named fields overriding the URL', () => {
    const c = resolveConfig({ env: {}, redisUrl: 'rediss://u:p@redis.example:6390/4', redisDb: 1 })
    expect(c.redis).toMatchObject({
      url: 'rediss://u:p@redis.example:6390/4',
      host: undefined,
      port: undefined,
      db: 1,
      tls: true,
      rejectUnauthorized: true,
      where: 'redis.example:6390/1',
    })
    expect(c.redis?.where).not.toContain('p@')
  })

  test('redisSslCertReqs accepts the seed spellings', () => {
    const reqs = (v: string) =>
      resolveConfig({ env: {}, redisHost: 'h', redisSsl: true, redisSslCertReqs: v as never }).redis
        ?.rejectUnauthorized
    expect(reqs('required')).toBe(true)
    expect(reqs('optional')).toBe(true)
    expect(reqs('none')).toBe(false)
    expect(reqs('CERT_NONE')).toBe(false)
    expect(reqs('ssl.CERT_REQUIRED')).toBe(true)
    optionError(() => reqs('sometimes'), 'redisSslCertReqs')
  })

  test('redisSslCaCerts reads the PEM file', () => {
    const { dir, remove: removeDir } = tempDir('tiercache-config')
    try {
      const file = join(dir, 'ca.pem')
      writeFileSync(file, '-----BEGIN CERTIFICATE-----\nx\n-----END CERTIFICATE-----\n')
      expect(resolveConfig({ env: {}, redisHost: 'h', redisSslCaCerts: file }).redis?.ca).toContain('BEGIN')
      const e = optionError(
        () => resolveConfig({ env: {}, redisHost: 'h', redisSslCaCerts: join(dir, 'missing.pem') }),
        'redisSslCaCerts',
      )
      expect(e.message).toContain('cannot be read')
    } finally {
      removeDir()
    }
  })
})

describe('maxMemorySize', () => {
  test('bytes or sizes in powers of 1024', () => {
    expect(parseSize(1000)).toBe(1000)
    expect(parseSize('100mb')).toBe(104_857_600)
    expect(parseSize('100MB')).toBe(104_857_600)
    expect(parseSize('100 MiB')).toBe(104_857_600)
    expect(parseSize('1.5g')).toBe(1.5 * 2 ** 30)
    expect(parseSize('512kb')).toBe(512 * 1024)
    expect(parseSize('2048')).toBe(2048)
    expect(parseSize('64b')).toBe(64)
  })

  test('bad sizes name the field', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '', 'lots', '10tb', '-5mb', true]) {
      optionError(() => resolveConfig({ env: {}, maxMemorySize: bad as never }), 'maxMemorySize')
    }
  })
})

describe('environment variables', () => {
  test('every TIERCACHE_* variable', () => {
    const c = resolveConfig({
      env: {
        TIERCACHE_REDIS_HOST: 'redis.local',
        TIERCACHE_REDIS_PORT: '6381',
        TIERCACHE_REDIS_DB: '3',
        TIERCACHE_REDIS_USERNAME: 'app',
        TIERCACHE_REDIS_PASSWORD: 'pw',
        TIERCACHE_REDIS_SSL: 'true',
        TIERCACHE_REDIS_SSL_CERT_REQS: 'none',
        TIERCACHE_REDIS_PREFIX: 'myapp:',
        TIERCACHE_DEFAULT_TTL: '600',
        TIERCACHE_MAX_MEMORY_SIZE: '32mb',
        TIERCACHE_ENABLE_CACHE_WARMING: 'no',
        TIERCACHE_CACHE_WARMING_THRESHOLD: '20',
        TIERCACHE_ENABLE_METRICS: '0',
        TIERCACHE_FALLBACK_TO_DB: 'off',
        TIERCACHE_FALLBACK_DB: '/tmp/x.db',
        TIERCACHE_NAMESPACE: 'shop',
        TIERCACHE_BREAKER_RESET_TIMEOUT: '2s',
      },
    })
    expect(c).toMatchObject({
      namespace: 'shop',
      redis: {
        host: 'redis.local',
        port: 6381,
        db: 3,
        username: 'app',
        password: 'pw',
        tls: true,
        rejectUnauthorized: false,
        prefix: 'myapp:',
      },
      defaultTtlMs: 600_000,
      maxMemorySize: 32 * 2 ** 20,
      enableCacheWarming: false,
      cacheWarmingThreshold: 20,
      enableMetrics: false,
      fallbackToDb: false,
      fallbackDb: '/tmp/x.db',
      breakerResetTimeoutMs: 2000,
    })
  })

  test('REDIS_URL, and TIERCACHE_REDIS_URL before it', () => {
    expect(resolveConfig({ env: { REDIS_URL: 'redis://a:1' } }).redis?.url).toBe('redis://a:1')
    expect(
      resolveConfig({ env: { REDIS_URL: 'redis://a:1', TIERCACHE_REDIS_URL: 'redis://b:2' } }).redis?.url,
    ).toBe('redis://b:2')
  })

  test('fields given in code win over the environment; a connection in code wins as a whole', () => {
    const env = { REDIS_URL: 'redis://from-env:1', TIERCACHE_DEFAULT_TTL: '5', TIERCACHE_REDIS_PORT: '9' }
    const c = resolveConfig({ env, redisHost: 'from-code', defaultTtl: 7 })
    expect(c.redis).toMatchObject({ url: undefined, host: 'from-code', port: 6379 })
    expect(c.defaultTtlMs).toBe(7000)
  })

  test('bad values name the field and the variable', () => {
    const cases: [Record<string, string>, string, string][] = [
      [{ TIERCACHE_REDIS_PORT: 'http' }, 'redisPort', 'TIERCACHE_REDIS_PORT'],
      [{ TIERCACHE_REDIS_PORT: '70000' }, 'redisPort', 'TIERCACHE_REDIS_PORT'],
      [{ TIERCACHE_REDIS_HOST: 'h', TIERCACHE_REDIS_DB: '-1' }, 'redisDb', 'TIERCACHE_REDIS_DB'],
      [{ TIERCACHE_REDIS_HOST: 'h', TIERCACHE_REDIS_SSL: 'maybe' }, 'redisSsl', 'TIERCACHE_REDIS_SSL'],
      [{ TIERCACHE_DEFAULT_TTL: 'later' }, 'defaultTtl', 'TIERCACHE_DEFAULT_TTL'],
      [{ TIERCACHE_MAX_MEMORY_SIZE: 'huge' }, 'maxMemorySize', 'TIERCACHE_MAX_MEMORY_SIZE'],
      [{ TIERCACHE_ENABLE_METRICS: 'y' }, 'enableMetrics', 'TIERCACHE_ENABLE_METRICS'],
      [
        { TIERCACHE_CACHE_WARMING_THRESHOLD: '0' },
        'cacheWarmingThreshold',
        'TIERCACHE_CACHE_WARMING_THRESHOLD',
      ],
      [{ TIERCACHE_NAMESPACE: 'a b' }, 'namespace', 'TIERCACHE_NAMESPACE'],
      [{ REDIS_URL: 'http://x' }, 'redisUrl', 'REDIS_URL'],
      [
        { TIERCACHE_BREAKER_RESET_TIMEOUT: 'soon' },
        'breaker.resetTimeout',
        'TIERCACHE_BREAKER_RESET_TIMEOUT',
      ],
    ]
    for (const [env, field, variable] of cases) {
      const e = optionError(() => resolveConfig({ env }), field)
      expect(e.message).toContain(variable)
    }
  })
})

describe('validation of fields given in code', () => {
  test.each([
    ['redisPort', { redisPort: 0 }],
    ['redisPort', { redisPort: '6379' }],
    ['redisDb', { redisHost: 'h', redisDb: 1.5 }],
    ['redisHost', { redisHost: '' }],
    ['redisSsl', { redisHost: 'h', redisSsl: 'yes' }],
    ['enableCacheWarming', { enableCacheWarming: 1 }],
    ['cacheWarmingThreshold', { cacheWarmingThreshold: 256 }],
    ['fallbackToDb', { fallbackToDb: 'false' }],
    ['namespace', { namespace: 'has space' }],
    ['redisUrl', { redisUrl: 'not a url' }],
    ['redisHost', { redisUrl: 'redis://a', redisHost: 'b' }],
    ['redisPort', { redisUrl: 'redis://a', redisPort: 1 }],
    ['env', { env: 'PATH' }],
    ['config', null],
  ])('%s: %j', (option, config) => {
    optionError(
      () => resolveConfig(config === null ? (null as never) : ({ env: {}, ...config } as never)),
      option,
    )
  })
})

describe('field names: the seed spellings, null, unknown fields', () => {
  test("the seed's snake_case fields are accepted as written, and null (the seed's None) means not set", () => {
    const c = resolveConfig({
      env: {},
      redis_host: 'localhost',
      redis_port: 6379,
      redis_db: 0,
      redis_password: null,
      default_ttl: 3600,
      max_memory_size: 100 * 1024 * 1024,
      enable_cache_warming: true,
      cache_warming_threshold: 10,
      enable_metrics: true,
      fallback_to_db: true,
    })
    expect(c.redis).toMatchObject({ host: 'localhost', port: 6379, db: 0, password: undefined })
    expect(c.defaultTtlMs).toBe(3_600_000)
    expect(c.maxMemorySize).toBe(104_857_600)
    expect(resolveConfig({ env: {}, redisHost: 'h', redisPassword: null }).redis?.password).toBeUndefined()
    expect(
      resolveConfig({ env: { TIERCACHE_REDIS_PASSWORD: 'p' }, redisHost: 'h', redisPassword: null }).redis
        ?.password,
    ).toBe('p')
  })

  test('an unknown or misspelled field is an error naming the closest and every valid field', () => {
    const e = optionError(() => resolveConfig({ env: {}, redisHots: 'x' } as never), 'redisHots')
    expect(e.message).toContain('did you mean redisHost?')
    for (const field of CONFIG_FIELDS) expect(e.message).toContain(field)
    expect(
      optionError(() => resolveConfig({ env: {}, redis_hots: 'x' } as never), 'redis_hots').message,
    ).toContain('did you mean redisHost?')
    expect(optionError(() => resolveConfig({ env: {}, ssl: true } as never), 'ssl').message).toContain(
      'Valid fields:',
    )
    optionError(() => new CacheConfig({ colour: 'blue' } as never), 'colour')
  })

  test('one field in both spellings is refused', () => {
    const e = optionError(() => resolveConfig({ env: {}, redisHost: 'a', redis_host: 'b' }), 'redisHost')
    expect(e.message).toMatch(/redisHost and redis_host are the same field/)
  })

  test('new CacheConfig(...) checks values when it is made and keeps the camelCase fields', () => {
    const config = new CacheConfig({ redis_host: 'localhost', default_ttl: 7200, redis_password: null })
    expect(config.redisHost).toBe('localhost')
    expect(config.defaultTtl).toBe(7200)
    expect('redisPassword' in config).toBe(false)
    expect(Object.isFrozen(config)).toBe(true)
    optionError(() => new CacheConfig({ redisPort: 0 }), 'redisPort')
    optionError(() => new CacheConfig({ defaultTtl: -1 }), 'defaultTtl')
  })
})

describe('time unit', () => {
  test("seconds by default; 'ms' (or TIERCACHE_TIME_UNIT=ms) makes bare numbers milliseconds", () => {
    expect(resolveConfig({ env: {} }).timeUnit).toBe('s')
    expect(resolveConfig({ env: {}, timeUnit: 'ms', defaultTtl: 1500 }).defaultTtlMs).toBe(1500)
    expect(
      resolveConfig({ env: { TIERCACHE_TIME_UNIT: 'ms', TIERCACHE_DEFAULT_TTL: '250' } }).defaultTtlMs,
    ).toBe(250)
    expect(resolveConfig({ env: { TIERCACHE_BREAKER_RESET_TIMEOUT: '60' } }).breakerResetTimeoutMs).toBe(
      60_000,
    )
    expect(
      resolveConfig({ env: { TIERCACHE_BREAKER_RESET_TIMEOUT: '60', TIERCACHE_TIME_UNIT: 'ms' } })
        .breakerResetTimeoutMs,
    ).toBe(60)
    optionError(() => resolveConfig({ env: {}, timeUnit: 'min' as never }), 'timeUnit')
    expect(
      optionError(() => resolveConfig({ env: { TIERCACHE_TIME_UNIT: 'h' } }), 'timeUnit').message,
    ).toContain('TIERCACHE_TIME_UNIT')
  })
})
