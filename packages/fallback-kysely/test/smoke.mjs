// Runs in a fresh folder holding @tiercache/fallback-kysely, @tiercache/core, kysely and
// better-sqlite3 (test/smoke.json), but not pg or mysql2.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isTierCacheError } from '@tiercache/core'
import { kyselyStore } from '@tiercache/fallback-kysely'

const dir = mkdtempSync(join(tmpdir(), 'fallback-kysely-smoke-'))
try {
  const store = kyselyStore({ sqlite: join(dir, 'cache.db') }, { table: 'smoke' })
  const now = Date.now()
  await store.set('ns:a', {
    value: new TextEncoder().encode('hello'),
    createdAt: now,
    freshUntil: now + 1000,
    staleUntil: now + 2000,
    tags: ['t'],
  })
  const got = await store.get('ns:a')
  if (Buffer.from(got.value).toString() !== 'hello' || got.tags[0] !== 't') throw new Error('wrong entry')
  if ((await store.deleteByPattern('ns:*')) !== 1) throw new Error('deleteByPattern failed')
  await store.close()

  // pg is not installed here: the error names the package to install.
  const pgStore = kyselyStore({ postgres: 'postgres://127.0.0.1:1/none' })
  try {
    await pgStore.get('ns:a')
    throw new Error('expected a missing-driver error')
  } catch (error) {
    if (!isTierCacheError(error, 'E_DRIVER_MISSING') || !error.message.includes('pnpm add pg')) throw error
  }
  await pgStore.close()
  console.log('smoke ok')
} finally {
  rmSync(dir, { recursive: true, force: true })
}
