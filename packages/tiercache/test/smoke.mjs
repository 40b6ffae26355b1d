// Runs in a fresh folder holding only tiercache and what it installs (the @tiercache packages,
// ioredis, kysely, better-sqlite3, prom-client): embedded mode, then Redis configured but down.
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createDistributedCache, isTierCacheError, metricsHandler } from 'tiercache'

const dir = mkdtempSync(join(tmpdir(), 'tiercache-smoke-'))
try {
  const cache = createDistributedCache({ env: {}, fallbackDb: join(dir, 'cache.db'), logger: false })
  await cache.set('user:1', { name: 'Ada' })
  if ((await cache.get('user:1'))?.name !== 'Ada') throw new Error('embedded get failed')
  if (!(await cache.registry.metrics()).includes('cache_hits_total')) throw new Error('no metrics')
  if (typeof metricsHandler !== 'function') throw new Error('metricsHandler missing')
  await cache.close()

  const again = createDistributedCache({ env: {}, fallbackDb: join(dir, 'cache.db'), logger: false })
  if ((await again.get('user:1'))?.name !== 'Ada') throw new Error('SQLite did not keep the value')
  await again.close()

  // Redis configured on a port where nothing listens: it starts anyway, breaker open.
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = s.address().port
      s.close(() => resolve(p))
    })
  })
  const warnings = []
  const down = createDistributedCache({
    env: {},
    redisPort: port,
    fallbackDb: join(dir, 'down.db'),
    logger: { debug() {}, info() {}, warn: (_o, m) => warnings.push(m), error() {} },
  })
  await down.ready()
  if (down.breaker.state !== 'open' || warnings.length === 0) throw new Error('breaker did not open')
  if ((await down.getOrSet('k', () => 42)) !== 42) throw new Error('getOrSet failed with Redis down')
  await down.close()

  try {
    createDistributedCache({ env: {}, maxMemorySize: 'lots' })
    throw new Error('expected an invalid option error')
  } catch (error) {
    if (!isTierCacheError(error, 'E_INVALID_OPTION') || error.option !== 'maxMemorySize') throw error
  }
  console.log('smoke ok')
} finally {
  rmSync(dir, { recursive: true, force: true })
}
