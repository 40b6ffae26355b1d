/**
 * The seed document (shared/seed, "Sistema de Cache Distribuído"), executable: every Python
 * example transliterated line by line (only syntax changes: quotes kept, `await`, camelCase,
 * `new`, `const`/`let`, `//` comments, a function decorator applied as a call, `f"..."` as a
 * template string, `:.2%` as `toFixed(2)%`), each followed by `expect(...)` lines asserting the
 * outcome the seed states for it. Seed lines keep the seed's comments; lines that set up what
 * the seed leaves implicit (the data, the database the repository talks to) say so.
 *
 * The seed's environment is a Redis on localhost:6379 (the machine's own); this file gives
 * every cache a namespace and a Redis key prefix of its own through TIERCACHE_* variables, as a
 * deployment would, so it shares that Redis safely with other tests.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { redisCommand, } from '@tiercache/test-servers'
import { load } from 'js-yaml'
import { describe, expect, test, vi } from 'vitest'
import {
  CacheConfig,
  cacheDecorator,
  DistributedCache,
  getCache,
  resolveConfig,
} from '../src/index.js'
import { about, caches, deployment, redis6379, redisPttl, sqliteTtl, track, useSeedWorld } from './seed-world.js'

useSeedWorld()

describe('⚙️ CONFIGURAÇÃO', () => {
  test('📋 Configuração Básica: Redis on localhost:6379 db 0, TTL 1 hour, L1 100MB, warming at 10, metrics, SQL fallback', async () => {
    const namespace = deployment('basic')
    // from infrastructure.cache.distributed_cache import CacheConfig, DistributedCache

    // Configuração padrão
    const config = new CacheConfig({
        redisHost: "localhost",
        redisPort: 6379,
        redisDb: 0,
        redisPassword: null,
        defaultTtl: 3600,  // 1 hora
        maxMemorySize: 100 * 1024 * 1024,  // 100MB
        enableCacheWarming: true,
        cacheWarmingThreshold: 10,
        enableMetrics: true,
        fallbackToDb: true
    })

    // Inicialização
    const cache = new DistributedCache(config)

    track(cache)
    await cache.ready()
    expect(cache.config.redis).toMatchObject({ host: 'localhost', port: 6379, db: 0, password: undefined })
    expect(cache.config.defaultTtlMs).toBe(3_600_000)
    expect(cache.getStats().tiers.map((t) => [t.level, t.maxBytes])).toEqual([
      ['l1_memory', 100 * 1024 * 1024],
      ['l2_redis', undefined],
      ['l3_sql', undefined],
    ])
    expect(cache.config).toMatchObject({ enableCacheWarming: true, cacheWarmingThreshold: 10 })
    expect(await cache.registry?.metrics()).toContain('cache_hits_total')
    expect(await cache.health()).toMatchObject({ status: 'ok', mode: 'redis', breaker: 'closed' })
    await cache.set('k', 'v') // the default TTL: 1 hora
    expect(await redisPttl(namespace, 'k')).toEqual(about(3600))
    expect(sqliteTtl(namespace, 'k')).toEqual(about(3600))
  })

  test('🔧 Configuração Avançada: a production config (2 hours, 500MB, warming at 5), checked without connecting', () => {
    // Configuração para produção
    const productionConfig = new CacheConfig({
        redisHost: "redis-cluster.example.com",
        redisPort: 6379,
        redisPassword: "secure_password",
        defaultTtl: 7200,  // 2 horas
        maxMemorySize: 500 * 1024 * 1024,  // 500MB
        enableCacheWarming: true,
        cacheWarmingThreshold: 5,
        enableMetrics: true,
        fallbackToDb: true
    })

    const resolved = resolveConfig(productionConfig)
    expect(resolved.redis).toMatchObject({
      host: 'redis-cluster.example.com',
      port: 6379,
      password: 'secure_password',
      where: 'redis-cluster.example.com:6379/0',
    })
    expect(resolved.defaultTtlMs).toBe(7_200_000)
    expect(resolved.maxMemorySize).toBe(500 * 1024 * 1024)
    expect(resolved.cacheWarmingThreshold).toBe(5)
    expect(resolved).toMatchObject({ enableCacheWarming: true, enableMetrics: true, fallbackToDb: true })
  })
})

describe('🚀 USO BÁSICO', () => {
  test('📝 Operações Principais: the global cache; set for 3600 s, get, delete, clear', async () => {
    const namespace = deployment('global')
    // from infrastructure.cache.distributed_cache import get_cache

    // Obtém instância global
    const cache = getCache()

    expect(cache).toBeInstanceOf(DistributedCache)
    expect(getCache()).toBe(cache) // one instance for the process
    expect(cache.namespacePath).toBe(namespace)
    await (cache as DistributedCache).ready()
    await cache.set('other', 1) // (not in the seed: something for clear() to remove)

    // Set - Define valor no cache
    await cache.set("user:123", {"name": "João", "email": "joao@example.com"}, 3600)

    expect(await redisPttl(namespace, 'user:123')).toEqual(about(3600))
    expect(sqliteTtl(namespace, 'user:123')).toEqual(about(3600))

    // Get - Obtém valor do cache
    const userData = await cache.get("user:123")

    expect(userData).toEqual({ name: 'João', email: 'joao@example.com' })

    // Delete - Remove valor do cache
    await cache.delete("user:123")

    expect(await cache.get('user:123')).toBeUndefined()
    expect(await redisPttl(namespace, 'user:123')).toBe(-2)
    expect(sqliteTtl(namespace, 'user:123')).toBeUndefined()

    // Clear - Limpa todo o cache
    await cache.clear()

    expect(await cache.get('other')).toBeUndefined()
    expect(await redisPttl(namespace, 'other')).toBe(-2)
  })

  test('🎯 Decorator de Cache: the first call reads the database, the second the cache, for 3600 s', async () => {
    const cache = getCache()
    const namespace = cache.namespacePath
    const loadsBefore = cache.getStats().loads

    // from infrastructure.cache.distributed_cache import cache_decorator

    const getUserProfile = cacheDecorator("user_profile", 3600)(
    function getUserProfile(userId: string) {
        /** Busca perfil do usuário no database */
        // Lógica de busca no database
        return {"id": userId, "name": "João", "email": "joao@example.com"}
    })

    // Uso automático do cache
    let profile = await getUserProfile("123")  // Primeira vez: busca no DB
    expect(cache.getStats().loads).toBe(loadsBefore + 1)
    profile = await getUserProfile("123")  // Segunda vez: usa cache

    expect(cache.getStats().loads).toBe(loadsBefore + 1)
    expect(profile).toEqual({ id: '123', name: 'João', email: 'joao@example.com' })
    expect(getUserProfile.key('123')).toBe('user_profile:123')
    expect(await redisPttl(namespace, 'user_profile:123')).toEqual(about(3600))
  })
})

describe('📊 ESTRATÉGIAS DE CACHE', () => {
  test('🎯 Cache Warming Automático: warming runs on the 10th access', async () => {
    deployment('warming')
    // Configuração
    const config = new CacheConfig({
        enableCacheWarming: true,
        cacheWarmingThreshold: 10  // Warming após 10 acessos
    })

    const cache = track(new DistributedCache(config)) // (not in the seed: the `cache` below, from this config)
    const hotAt: number[] = []
    let access = 0
    cache.on('hot', ({ key }) => {
      if (key === 'frequently_accessed_key') hotAt.push(access)
    })
    await cache.set('frequently_accessed_key', 'value') // (not in the seed: the key exists)

    // Funcionamento automático
    for (let i = 0; i < 15; i++) {
        access = i + 1 // (not in the seed: which access this is)
        await cache.get("frequently_accessed_key")  // Warming executado no 10º acesso
    }

    expect(hotAt).toEqual([10])
    expect(cache.getStats().warming?.hotKeys).toBe(1)
  })

  test('⏰ TTL Inteligente: 30 min, 1 hora, 24 horas', async () => {
    const cache = getCache()
    const namespace = cache.namespacePath
    const sessionData = { token: 't' }
    const profileData = { name: 'João' }
    const contentData = '<html></html>'

    // TTL baseado no tipo de dado
    await cache.set("user_session", sessionData, 1800)      // 30 min
    await cache.set("user_profile", profileData, 3600)      // 1 hora
    await cache.set("static_content", contentData, 86400)   // 24 horas

    expect(await redisPttl(namespace, 'user_session')).toEqual(about(1800))
    expect(await redisPttl(namespace, 'user_profile')).toEqual(about(3600))
    expect(await redisPttl(namespace, 'static_content')).toEqual(about(86_400))
    expect(sqliteTtl(namespace, 'user_session')).toEqual(about(1800))
    expect(sqliteTtl(namespace, 'static_content')).toEqual(about(86_400))
  })

  test('🔄 Invalidação Inteligente: one user, every user, and a value for 5 minutes', async () => {
    const cache = getCache()
    const namespace = cache.namespacePath
    const data = { n: 1 }
    for (const id of ['123', '456', '789']) await cache.set(`user:${id}`, { id }) // (not in the seed: users)
    await cache.set('user_profile:123', { id: '123' })
    ;(cache as DistributedCache).flushLocal() // (and read them back from Redis and SQLite below)

    // Invalidação por padrão
    await cache.delete("user:123")

    expect(await cache.get('user:123')).toBeUndefined()
    expect(await cache.get('user:456')).toEqual({ id: '456' })

    // Invalidação em lote
    await cache.delete("user:*")  // Remove todos os usuários

    expect(await cache.get('user:456')).toBeUndefined()
    expect(await cache.get('user:789')).toBeUndefined()
    expect(await redisPttl(namespace, 'user:789')).toBe(-2)
    expect(sqliteTtl(namespace, 'user:789')).toBeUndefined()
    expect(await cache.get('user_profile:123')).toEqual({ id: '123' }) // not a user:* key

    // Invalidação por tempo
    await cache.set("temp_data", data, 300)  // Expira em 5 minutos

    expect(await redisPttl(namespace, 'temp_data')).toEqual(about(300))
  })
})

describe('📈 MÉTRICAS E MONITORAMENTO', () => {
  test('📊 Métricas Disponíveis: L1 size in bytes, L1 hit ratio, L2 connected, Redis used memory', async () => {
    deployment('stats')
    const cache = track(new DistributedCache(new CacheConfig({ redisHost: 'localhost' }))) // (a cache in use)
    await cache.ready()
    await cache.set('a', 'x'.repeat(1000))
    await cache.get('a') // an L1 hit
    await cache.get('b') // an L1 miss
    const info = String(await redisCommand(redis6379, 'INFO', 'memory'))
    const redisMemory = Number(/used_memory:(\d+)/.exec(info)?.[1])
    const printed: string[] = []
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line))

    try {
      // Obtém estatísticas completas
      const stats = cache.getStats()

      console.log(`L1 Cache Size: ${stats['l1_cache']['size']} bytes`)
      console.log(`L1 Hit Ratio: ${(stats['l1_cache']['hit_ratio'] * 100).toFixed(2)}%`)
      console.log(`L2 Connected: ${stats['l2_cache']['connected']}`)
      console.log(`Redis Memory: ${stats['l2_cache']['used_memory']} bytes`)

      const l1 = stats.tiers[0]!
      expect(stats.l1_cache.size).toBe(l1.bytes)
      expect(stats.l1_cache.size).toBeGreaterThan(1000)
      expect(printed[0]).toBe(`L1 Cache Size: ${l1.bytes} bytes`)
      expect(printed[1]).toBe('L1 Hit Ratio: 50.00%')
      expect(printed[2]).toBe('L2 Connected: true')
      // Redis's own used_memory, read when the cache started (it moves as others use Redis).
      expect(stats.l2_cache.used_memory).toBeGreaterThan(redisMemory / 2)
      expect(stats.l2_cache.used_memory).toBeLessThan(redisMemory * 2)
      expect(printed[3]).toBe(`Redis Memory: ${stats.l2_cache.used_memory} bytes`)
    } finally {
      log.mockRestore()
    }
  })

  test('📈 Métricas Prometheus: the four series the seed names are exported', async () => {
    const cache = caches.at(-1) as DistributedCache
    await cache.get('a')
    await cache.get('missing')
    const text = (await cache.registry!.metrics()) as string
    const ns = cache.namespacePath
    expect(text).toMatch(new RegExp(`^cache_hits_total\\{namespace="${ns}",level="l1_memory"\\} \\d+`, 'm'))
    // Misses are the reads no level answered, on the last level: l3_sql here (fallback_to_db=True)…
    expect(text).toMatch(new RegExp(`^cache_misses_total\\{namespace="${ns}",level="l3_sql"\\} [1-9]\\d*$`, 'm'))
    // …and l2_redis in the seed's two levels, as its example shows.
    deployment('metrics-l1-l2')
    const twoLevels = track(new DistributedCache(new CacheConfig({ redisHost: 'localhost', fallbackToDb: false })))
    await twoLevels.get('missing')
    expect((await twoLevels.registry!.metrics()) as string).toMatch(
      new RegExp(`^cache_misses_total\\{namespace="${twoLevels.namespacePath}",level="l2_redis"\\} 1$`, 'm'),
    )
    // A histogram: the seed's one number per operation is its _sum / _count.
    expect(text).toMatch(/^cache_operations_duration_seconds_count\{[^}]*operation="get"[^}]*\} \d+/m)
    expect(text).toMatch(
      new RegExp(`^cache_size_bytes\\{namespace="${ns}",level="l1_memory"\\} [1-9]\\d*`, 'm'),
    )
  })

  test('🚨 Alertas Recomendados: the shipped rules carry the seed names (their evaluation: metrics-prometheus)', () => {
    const rules = load(
      readFileSync(join(import.meta.dirname, '../../metrics-prometheus/alerts/tiercache.rules.yml'), 'utf8'),
    ) as { groups: { rules: { alert?: string; labels?: { severity?: string } }[] }[] }
    const alerts = rules.groups.flatMap((g) => g.rules)
    expect(alerts.find((r) => r.alert === 'CacheHitRatioLow')?.labels?.severity).toBe('warning')
    expect(alerts.find((r) => r.alert === 'RedisConnectionDown')?.labels?.severity).toBe('critical')
  })
})
