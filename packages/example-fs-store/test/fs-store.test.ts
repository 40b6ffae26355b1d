import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { isTierCacheError } from '@tiercache/core'
import { NEVER, type RemoteEntry } from '@tiercache/core/store'
import { runStoreSuite } from '@tiercache/store-test-suite'
import { caught, tempDir } from '@tiercache/test-kit'
import { afterAll, describe, expect, test } from 'vitest'
import { fsStore } from '../src/index.js'

const { dir: root, remove: removeRoot } = tempDir('fs-store-test')
afterAll(() => removeRoot())
let dirs = 0
const freshDir = (): string => join(root, `dir-${++dirs}`)

function entry(value: string, staleUntil = Date.now() + 60_000): RemoteEntry {
  const now = Date.now()
  return { value: Buffer.from(value), createdAt: now, freshUntil: now + 1000, staleUntil, tags: ['t'] }
}

/** A path whose parent is a file: every filesystem call under it fails (ENOTDIR). */
const unusable = (): string => {
  const file = join(root, `file-${++dirs}`)
  writeFileSync(file, '')
  return join(file, 'cache')
}

// The same suite on a given directory, with a size limit, the capabilities pinned, and a store
// whose directory cannot exist for the failure tests.
runStoreSuite({
  describe,
  test,
  expect,
  create: () => fsStore(freshDir(), { maxEntryBytes: 64 * 1024, name: 'files' }),
  failing: () => fsStore(unusable(), { name: 'files' }),
  capabilities: { deleteByPattern: true, close: true },
  name: 'fsStore on a given directory, with maxEntryBytes',
})

describe('fsStore', () => {
  test('refuses bad options with E_INVALID_OPTION', () => {
    for (const make of [() => fsStore(''), () => fsStore(freshDir(), { maxEntryBytes: -1 })]) {
      let error: unknown
      try {
        make()
      } catch (e) {
        error = e
      }
      expect(isTierCacheError(error, 'E_INVALID_OPTION')).toBe(true)
    }
  })

  test('entries persist: another store on the same directory reads them', async () => {
    const dir = freshDir()
    const first = fsStore(dir)
    await first.set('app:k', entry('v', NEVER))
    await first.close()
    expect(existsSync(dir)).toBe(true) // a directory you give is never deleted
    const got = await fsStore(dir).get('app:k')
    expect(Buffer.from(got!.value).toString()).toBe('v')
    expect([got!.staleUntil, [...got!.tags]]).toEqual([NEVER, ['t']])
  })

  test('a temporary directory is made on first use and removed by close()', async () => {
    const temp = freshDir()
    mkdirSync(temp)
    const saved = process.env.TMPDIR
    process.env.TMPDIR = temp // os.tmpdir() reads it
    try {
      const store = fsStore()
      expect(readdirSync(temp)).toEqual([])
      await store.set('app:k', entry('v'))
      expect(readdirSync(temp)).toHaveLength(1)
      await store.close()
      expect(readdirSync(temp)).toEqual([])
    } finally {
      if (saved === undefined) delete process.env.TMPDIR
      else process.env.TMPDIR = saved
    }
  })

  test('one file per key, no temporary files left behind, expired files dropped when read', async () => {
    const dir = freshDir()
    const store = fsStore(dir)
    await Promise.all(Array.from({ length: 20 }, (_, i) => store.set(`app:${i % 4}`, entry(`v${i}`))))
    expect(readdirSync(dir).sort()).toEqual(readdirSync(dir).filter((n) => /^[0-9a-f]{64}\.entry$/.test(n)))
    expect(readdirSync(dir).length).toBe(4)
    await store.set('app:old', entry('old', Date.now() + 20))
    await new Promise((resolve) => setTimeout(resolve, 40))
    expect(await store.get('app:old')).toBeUndefined()
    expect(readdirSync(dir).length).toBe(4)
  })

  test('an unreadable file is E_DESERIALIZE on get and is skipped by scans', async () => {
    const dir = freshDir()
    const store = fsStore(dir)
    await store.set('app:k', entry('v'))
    const [name] = readdirSync(dir)
    writeFileSync(join(dir, name!), 'garbage')
    expect(isTierCacheError(await caught(() => store.get('app:k')), 'E_DESERIALIZE')).toBe(true)
    await store.set('app:j', entry('j'))
    expect(await store.deleteByPattern('app:*')).toBe(1)
  })

  test('filesystem failures are StoreError naming the store, operation, key and cause', async () => {
    const file = join(root, `not-a-dir-${++dirs}`)
    writeFileSync(file, '')
    const store = fsStore(file, { name: 'files' })
    const error = await caught(() => store.set('app:k', entry('v')))
    expect(error).toMatchObject({ code: 'E_STORE', store: 'files', operation: 'set', key: 'app:k' })
    expect((error as Error).cause).toMatchObject({ code: 'EEXIST' })
    expect(await caught(() => store.clear('app'))).toMatchObject({ code: 'E_STORE', operation: 'clear' })
  })
})
