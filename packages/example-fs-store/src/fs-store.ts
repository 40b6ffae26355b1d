import { createHash, randomUUID } from 'node:crypto'
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import {
  compilePattern,
  DeserializationError,
  decodeEntry,
  encodeEntry,
  InvalidOptionError,
  isTierCacheError,
  type RemoteEntry,
  type Store,
  type StoreCapabilities,
  StoreError,
  ValueTooLargeError,
} from '@tiercache/core/store'
import type { FsStoreOptions } from './options.js'

/** What the store keeps in one file: the key (for scans) and the entry. */
interface Stored {
  readonly key: string
  readonly entry: RemoteEntry
}

/**
 * One file holds: the key's length (u32, big-endian), the key in UTF-8, then the entry with its
 * metadata, packed by core's `encodeEntry`.
 */
function pack(key: string, entry: RemoteEntry): Buffer {
  const keyBytes = Buffer.from(key, 'utf8')
  const length = Buffer.alloc(4)
  length.writeUInt32BE(keyBytes.length)
  return Buffer.concat([length, keyBytes, encodeEntry(entry)])
}

/** The reverse of `pack`; `DeserializationError` (`E_DESERIALIZE`) for a file it did not write. */
function unpack(bytes: Buffer): Stored {
  const keyEnd = bytes.length >= 4 ? 4 + bytes.readUInt32BE(0) : Number.POSITIVE_INFINITY
  if (keyEnd > bytes.length) throw new DeserializationError('entry file is truncated')
  return { key: bytes.toString('utf8', 4, keyEnd), entry: decodeEntry(bytes.subarray(keyEnd)) }
}

const isMissing = (error: unknown): boolean => (error as { code?: unknown } | null)?.code === 'ENOENT'

/**
 * A remote tier that keeps one file per key in a directory. Keys are hashed into file names; each
 * file holds its key and the entry with its metadata. Writes go to a temporary file renamed over
 * the old one, so a reader sees a whole entry or none.
 */
export class FsStore implements Store<Uint8Array> {
  /** Tier name used in stats, metrics and errors. */
  readonly name: string
  /** A remote store: it keeps the bytes the engine serialized. */
  readonly kind: 'remote' = 'remote'
  /** Always `'local'`: the directory belongs to this host; other instances' invalidations reach it over the bus. */
  readonly scope: 'local' = 'local'
  /** Pattern deletes scan the directory; close() removes a temporary directory. */
  readonly capabilities: StoreCapabilities = Object.freeze({ deleteByPattern: true, close: true })
  /** Largest entry value in bytes, if limited. */
  readonly maxEntryBytes?: number

  readonly #dir: string | undefined
  #ready: Promise<string> | undefined
  #closed = false

  /**
   * @param dir - directory for the files, created if missing and never deleted; omit it for a
   *   temporary directory that `close()` removes
   * @param options - see {@link FsStoreOptions}
   */
  constructor(dir?: string, options: FsStoreOptions = {}) {
    if (dir !== undefined && (typeof dir !== 'string' || dir === '')) {
      throw new InvalidOptionError('fsStore: dir must be a non-empty path', { option: 'dir' })
    }
    const max = options.maxEntryBytes
    if (max !== undefined && !(typeof max === 'number' && max > 0)) {
      throw new InvalidOptionError('fsStore: maxEntryBytes must be a positive number', {
        option: 'maxEntryBytes',
      })
    }
    this.#dir = dir
    this.name = options.name ?? 'fs'
    if (max !== undefined) this.maxEntryBytes = max
  }

  /** Reads an entry; `undefined` when the file is missing or the entry is past `staleUntil`. */
  async get(key: string): Promise<RemoteEntry | undefined> {
    return this.#run('get', key, async (dir) => {
      const file = this.#file(dir, key)
      const stored = await this.#read(file)
      if (stored === undefined || stored.key !== key) return undefined
      if (stored.entry.staleUntil <= Date.now()) {
        // Physically expired: never returned. Drop the file (a write racing this unlink loses,
        // which a cache can afford: the next read is a miss, never a wrong value).
        await unlink(file).catch(() => {})
        return undefined
      }
      return stored.entry
    })
  }

  /**
   * Writes an entry, replacing the previous one atomically.
   * @throws ValueTooLargeError when the value exceeds `maxEntryBytes` (the key is left as it was)
   */
  async set(key: string, entry: RemoteEntry): Promise<void> {
    const size = entry.value.byteLength
    if (this.maxEntryBytes !== undefined && size > this.maxEntryBytes) {
      throw new ValueTooLargeError(size, this.maxEntryBytes, { store: this.name, operation: 'set', key })
    }
    await this.#run('set', key, async (dir) => {
      const file = this.#file(dir, key)
      const temp = `${file}.${randomUUID()}.tmp`
      try {
        await writeFile(temp, pack(key, entry))
        await rename(temp, file)
      } catch (error) {
        await unlink(temp).catch(() => {})
        throw error
      }
    })
  }

  /** Deletes a key; `true` when its file existed. */
  async delete(key: string): Promise<boolean> {
    return this.#run('delete', key, async (dir) => {
      try {
        await unlink(this.#file(dir, key))
        return true
      } catch (error) {
        if (isMissing(error)) return false
        throw error
      }
    })
  }

  /** Deletes every key under `namespace + ':'`; `''` deletes every key in the directory. */
  async clear(namespace: string): Promise<void> {
    const prefix = `${namespace}:`
    await this.#deleteWhere('clear', (key) => namespace === '' || key.startsWith(prefix))
  }

  /** Deletes keys matching a glob; resolves how many unexpired entries were deleted. */
  async deleteByPattern(pattern: string): Promise<number> {
    return this.#deleteWhere('deleteByPattern', compilePattern(pattern))
  }

  /**
   * Removes the directory if the store made it (no `dir` given). A directory you gave stays.
   * Later calls reject with a `StoreError` (`E_CLOSED`) instead of making a new directory.
   */
  async close(): Promise<void> {
    this.#closed = true
    const made = this.#dir === undefined ? this.#ready : undefined
    this.#ready = undefined
    const dir = await made?.catch(() => undefined)
    if (dir !== undefined) await rm(dir, { recursive: true, force: true })
  }

  /** The directory, created on first use. */
  #directory(): Promise<string> {
    const given = this.#dir
    this.#ready ??= (
      given === undefined
        ? mkdtemp(join(tmpdir(), 'tiercache-fs-'))
        : mkdir(given, { recursive: true }).then(() => given)
    ).catch((error: unknown) => {
      this.#ready = undefined // try again on the next call
      throw error
    })
    return this.#ready
  }

  #file(dir: string, key: string): string {
    return join(dir, `${createHash('sha256').update(key).digest('hex')}.entry`)
  }

  async #read(file: string): Promise<Stored | undefined> {
    try {
      return unpack(await readFile(file))
    } catch (error) {
      if (isMissing(error)) return undefined
      throw error
    }
  }

  /** Scans every entry file, deleting those whose key matches; counts the unexpired ones. */
  #deleteWhere(operation: string, match: (key: string) => boolean): Promise<number> {
    return this.#run(operation, undefined, async (dir) => {
      const now = Date.now()
      let deleted = 0
      for (const name of await readdir(dir)) {
        if (!name.endsWith('.entry')) continue // temporary files of writes in progress
        const file = join(dir, name)
        const stored = await this.#read(file).catch((error: unknown) => {
          if (isTierCacheError(error, 'E_DESERIALIZE')) return undefined // not ours to judge
          throw error
        })
        if (stored === undefined || !match(stored.key)) continue
        await unlink(file).catch((error: unknown) => {
          if (!isMissing(error)) throw error
        })
        if (stored.entry.staleUntil > now) deleted++
      }
      return deleted
    })
  }

  /** Runs a filesystem operation and reports its failure as a `StoreError`. */
  async #run<T>(operation: string, key: string | undefined, fn: (dir: string) => Promise<T>): Promise<T> {
    if (this.#closed) {
      throw new StoreError(
        `${this.name} ${operation} failed: the store is closed`,
        {
          store: this.name,
          operation,
          key,
        },
        'E_CLOSED',
      )
    }
    try {
      return await fn(await this.#directory())
    } catch (cause) {
      if (isTierCacheError(cause)) throw cause // already typed, e.g. E_DESERIALIZE
      const reason = cause instanceof Error ? cause.message : String(cause)
      throw new StoreError(`${this.name} ${operation} failed: ${reason}`, {
        store: this.name,
        operation,
        key,
        cause,
      })
    }
  }
}

/**
 * Creates a store that keeps one file per key.
 *
 * @param dir - directory for the files (created if missing, never deleted by the store); omit it
 *   for a fresh temporary directory that `close()` removes
 * @param options - name and size limit; see {@link FsStoreOptions}
 * @throws InvalidOptionError (`E_INVALID_OPTION`) for an empty `dir` or a bad `maxEntryBytes`
 * @example
 * ```ts
 * const cache = createCache({ tiers: [memoryStore(), fsStore('/var/cache/my-app')] })
 * ```
 */
export function fsStore(dir?: string, options?: FsStoreOptions): FsStore {
  return new FsStore(dir, options)
}
