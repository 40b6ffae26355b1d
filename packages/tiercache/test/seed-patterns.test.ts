/**
 * The seed document, executable (continued from seed.test.ts, same conventions): usage patterns
 * (repository, service), security and resilience, support.
 */
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest'
import {
  type Cache,
  CacheCircuitBreaker,
  CacheConfig,
  cacheDecorator,
  DEFAULT_BREAKER_OPTIONS,
  DistributedCache,
  getCache,
  resolveConfig,
} from '../src/index.js'
import { about, deployment, redisPttl, track, useSeedWorld } from './seed-world.js'

useSeedWorld()

// The global instance (getCache) these patterns use is configured by its deployment, as the
// configuration tests of seed.test.ts configure theirs.
beforeAll(() => {
  deployment('patterns')
})

describe('🔧 PADRÕES DE USO', () => {
  /** (Not in the seed: the database the seed's repository reads and writes.) */
  const users = new Map<string, Record<string, unknown>>([['123', { id: '123', name: 'João' }]])
  let databaseReads = 0

  class UserRepository {
      cache: Cache
      constructor() {
          this.cache = getCache()
      }

      async getUser(userId: string) {
          // Tenta cache primeiro
          const cacheKey = `user:${userId}`
          let userData = await this.cache.get(cacheKey)

          if (userData) {
              return userData
          }

          // Busca no database
          userData = await this._fetchFromDatabase(userId)

          // Cacheia resultado
          if (userData) {
              await this.cache.set(cacheKey, userData, 3600)
          }

          return userData
      }

      async updateUser(userId: string, userData: Record<string, unknown>) {
          // Atualiza database
          await this._updateDatabase(userId, userData)

          // Invalida cache
          const cacheKey = `user:${userId}`
          await this.cache.delete(cacheKey)
      }

      // (Not in the seed, which leaves the database out.)
      async _fetchFromDatabase(userId: string) {
          databaseReads++
          return users.get(userId)
      }
      async _updateDatabase(userId: string, userData: Record<string, unknown>) {
          users.set(userId, { ...users.get(userId), ...userData })
      }
  }

  class UserService {
      cache: Cache
      repository: UserRepository
      constructor() {
          this.cache = getCache()
          this.repository = new UserRepository()
      }

      @cacheDecorator("user_profile", 3600)
      async getUserProfile(userId: string) {
          return await this.repository.getUser(userId)
      }

      async updateUserProfile(userId: string, profileData: Record<string, unknown>) {
          // Atualiza
          await this.repository.updateUser(userId, profileData)

          // Invalida cache manualmente se necessário
          await this.cache.delete(`user_profile:${userId}`)
      }
  }

  test('🎯 Padrão Repository com Cache: cache first, the database once, invalidated on update', async () => {
    const repository = new UserRepository()
    const namespace = repository.cache.namespacePath
    await repository.cache.delete('user:123')
    databaseReads = 0
    expect(await repository.getUser('123')).toEqual({ id: '123', name: 'João' })
    expect(await repository.getUser('123')).toEqual({ id: '123', name: 'João' })
    expect(databaseReads).toBe(1)
    expect(await redisPttl(namespace, 'user:123')).toEqual(about(3600))
    await repository.updateUser('123', { name: 'João Silva' })
    expect(await repository.getUser('123')).toEqual({ id: '123', name: 'João Silva' })
    expect(databaseReads).toBe(2)
  })

  test('🎯 Padrão Service com Cache: the decorated profile, invalidated by hand with user_profile:{id}', async () => {
    const service = new UserService()
    await service.cache.delete('user_profile:123')
    await service.cache.delete('user:123')
    databaseReads = 0
    const before = await service.getUserProfile('123')
    expect(await service.getUserProfile('123')).toEqual(before)
    expect(databaseReads).toBe(1)
    expect(await service.cache.get('user_profile:123')).toEqual(before)

    await service.updateUserProfile('123', { name: 'João Souza' })

    expect(await service.getUserProfile('123')).toEqual({ id: '123', name: 'João Souza' })
    expect(databaseReads).toBe(2)
  })
})

describe('🛡️ SEGURANÇA E RESILIÊNCIA', () => {
  test('🔐 Segurança: password, TLS, and the server certificate must verify', () => {
    // Configuração segura para produção
    const secureConfig = new CacheConfig({
        redisHost: "redis.example.com",
        redisPassword: "strong_password_here",
        redisSsl: true,
        redisSslCertReqs: "required"
    })

    const resolved = resolveConfig(secureConfig)
    expect(resolved.redis).toMatchObject({
      host: 'redis.example.com',
      port: 6379,
      password: 'strong_password_here',
      tls: true,
      rejectUnauthorized: true,
    })
    expect(resolved.redis?.where).not.toContain('strong_password_here')
  })

  describe('with a Redis that this test stops', () => {
    let server: RedisServer
    let cache: DistributedCache
    const fetched: string[] = []
    const database = {
      async fetch(key: string) {
        fetched.push(key)
        return { key, from: 'database' }
      },
    }
    const errors: string[] = []
    const logger = { error: (line: string) => void errors.push(line) }

    beforeAll(async () => {
      server = await startRedis()
      deployment('fallback')
      cache = track(
        new DistributedCache(
          new CacheConfig({ redisHost: 'localhost', redisPort: server.port, logger: false }),
        ),
      )
      await cache.ready()
      await cache.set('kept', 'from before the outage', 3600)
      await server.kill()
      cache.flushLocal()
    })
    afterAll(() => server?.stop())

    test('🔄 Fallback Robusto: Redis down, no exception, the database answers, the value is cached', async () => {
      for (let round = 0; round < 2; round++) {
        let data: { key: string; from: string } | undefined

        // O sistema automaticamente faz fallback para database
        try {
            data = await cache.get("key")
            if (data === undefined) {
                // Fallback para database
                data = await database.fetch("key")
                await cache.set("key", data, 3600)
            }
        } catch (e) {
            // Log error e usa database diretamente
            logger.error(`Cache error: ${e}`)
            data = await database.fetch("key")
        }

        expect(data).toEqual({ key: 'key', from: 'database' })
      }
      expect(errors).toEqual([]) // the cache never threw
      expect(fetched).toEqual(['key']) // the second round was served by the cache
      expect(await cache.get('kept')).toBe('from before the outage') // from SQLite
      expect((await cache.health()).status).toBe('degraded')
    })

    test("⚡ Circuit Breaker: Redis's breaker opens after 5 failures and stays open 60 s", async () => {
      expect(DEFAULT_BREAKER_OPTIONS).toMatchObject({ failureThreshold: 5, resetTimeout: '60s' })
      for (let i = 0; i < 5 && cache.breaker?.state === 'closed'; i++) await cache.get(`missing:${i}`)
      expect(cache.breaker?.counters.opened).toBe(1)
      expect(cache.breaker?.state).toBe('open')
      const refused = (await Promise.resolve(cache.breaker!.get('x')).catch((e: unknown) => e)) as {
        code: string
        retryAt: number
      }
      expect(refused.code).toBe('E_CIRCUIT_OPEN')
      expect(refused.retryAt - Date.now()).toBeGreaterThan(50_000)
    })
  })

  test('⚡ Circuit Breaker: the seed class, 5 failures, then OPEN for 60 s, HALF_OPEN, CLOSED', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    try {
      // Implementação de circuit breaker para Redis
      const breaker = new CacheCircuitBreaker()

      expect(breaker.failureThreshold).toBe(5)
      expect(breaker.timeout).toBe(60)
      expect(breaker.failureCount).toBe(0)
      expect(breaker.lastFailureTime).toBe(0)
      expect(breaker.state).toBe("CLOSED")  // CLOSED, OPEN, HALF_OPEN

      const func = vi.fn(async () => {
        throw new Error('Redis down')
      })
      for (let i = 0; i < 5; i++) await expect(breaker.call(func)).rejects.toThrow('Redis down')
      expect(breaker.state).toBe('OPEN')
      await expect(breaker.call(func)).rejects.toThrow('Circuit breaker is OPEN')
      expect(func).toHaveBeenCalledTimes(5)
      vi.setSystemTime(Date.now() + 60_001)
      expect(await breaker.call(async (a: number) => a * 2, 21)).toBe(42)
      expect(breaker.state).toBe('CLOSED')
      expect(breaker.failureCount).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('📞 SUPORTE', () => {
  test('🔧 Troubleshooting, Performance baixa: hit ratio and memory usage of L1', async () => {
    const cache = getCache()
    await cache.set('hot', 1)
    await cache.get('hot')
    const printed: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line))
    try {
      // Verifica estatísticas
      const stats = cache.getStats()
      console.log(`Hit ratio: ${(stats['l1_cache']['hit_ratio'] * 100).toFixed(2)}%`)
      console.log(`Memory usage: ${stats['l1_cache']['size']} bytes`)

      const l1 = stats.tiers[0]!
      expect(printed).toEqual([
        `Hit ratio: ${((l1.hits / (l1.hits + l1.misses)) * 100).toFixed(2)}%`,
        `Memory usage: ${l1.bytes} bytes`,
      ])
    } finally {
      log.mockRestore()
    }
  })
})
