/**
 * `cache.warm()`: preloading keys or entries with bounded concurrency, progress events and an
 * optional progress bar.
 *
 * @module
 */

import { InvalidOptionError } from './errors.js'
import type { Emitter } from './events.js'
import type { Cache, Defined, SetManyItem, WarmOptions, WarmProgress, WarmSummary } from './types.js'
import { intOption } from './warming.js'

const BAR_WIDTH = 30

function drawBar(p: WarmProgress): void {
  const total = p.total ?? 0
  const frac = total > 0 ? Math.min(1, p.done / total) : 0
  const filled = Math.round(frac * BAR_WIDTH)
  const pct = total > 0 ? `${Math.floor(frac * 100)}%`.padStart(4) : '   ?'
  process.stderr.write(
    `\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${pct} ${p.done}/${p.total ?? '?'}${p.failed ? ` (${p.failed} failed)` : ''}`,
  )
}

/** Implementation of `cache.warm()`. */
export async function warm<T>(
  cache: Cache,
  engine: { assertOpen(): void; readonly emitter: Emitter },
  source: readonly string[] | Iterable<string> | AsyncIterable<string | SetManyItem<T>>,
  options: WarmOptions<T>,
): Promise<WarmSummary> {
  engine.assertOpen()
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('warm: options must be an object', { option: 'options' })
  }
  const iterable =
    typeof source === 'object' &&
    source !== null &&
    (typeof (source as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] === 'function' ||
      typeof (source as Partial<Iterable<unknown>>)[Symbol.iterator] === 'function')
  if (!iterable) {
    throw new InvalidOptionError(
      'warm needs an array or iterable of keys, or an (async) iterable of { key, value } entries',
      { option: 'source' },
    )
  }
  const concurrency = intOption(options.concurrency, 16, 'concurrency', 1, 10_000)
  const loader = options.loader
  if (loader !== undefined && typeof loader !== 'function') {
    throw new InvalidOptionError('warm: loader must be a function', { option: 'loader' })
  }
  const setOptions = {
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.grace !== undefined ? { grace: options.grace } : {}),
    ...(options.tags !== undefined ? { tags: options.tags } : {}),
  }
  const total = Array.isArray(source) ? source.length : undefined
  const started = performance.now()
  const failures: { key: string; error: unknown }[] = []
  let done = 0
  let succeeded = 0
  const showBar = options.progress === true && process.stderr.isTTY === true
  const emit = engine.emitter
  if (emit.listening['warm:start']) emit.emit('warm:start', { total })
  const progress = (): void => {
    const p: WarmProgress = { done, total, failed: failures.length }
    options.onProgress?.(p)
    if (emit.listening['warm:progress']) emit.emit('warm:progress', p)
    if (showBar) drawBar(p)
  }

  const iterator: AsyncIterator<string | SetManyItem<T>> | Iterator<string> =
    Symbol.asyncIterator in Object(source)
      ? (source as AsyncIterable<string | SetManyItem<T>>)[Symbol.asyncIterator]()
      : (source as Iterable<string>)[Symbol.iterator]()
  let exhausted = false
  // An `undefined` item is an item (refused below), not the end of the source.
  const next = async (): Promise<{ item: string | SetManyItem<T> } | undefined> => {
    if (exhausted) return undefined
    const r = await iterator.next()
    if (r.done) {
      exhausted = true
      return undefined
    }
    return { item: r.value }
  }

  const one = async (item: string | SetManyItem<T>): Promise<void> => {
    const key = typeof item === 'string' ? item : typeof item === 'object' && item !== null ? item.key : item
    try {
      if (typeof item !== 'string' && (typeof item !== 'object' || item === null)) {
        throw new InvalidOptionError('warm: each item must be a key or a { key, value } entry', {
          option: 'source',
        })
      }
      if (typeof item === 'string') {
        if (loader === undefined)
          throw new InvalidOptionError('warm: a list of keys needs options.loader', { option: 'loader' })
        const value = await loader(item)
        await cache.set(item, value as Defined<Awaited<T>>, setOptions)
      } else {
        await cache.set(item.key, item.value as Defined<T>, {
          ...setOptions,
          ...(item.ttl !== undefined ? { ttl: item.ttl } : {}),
          ...(item.grace !== undefined ? { grace: item.grace } : {}),
          ...(item.tags !== undefined ? { tags: item.tags } : {}),
        })
      }
      succeeded++
    } catch (error) {
      failures.push({ key: String(key), error })
    }
    done++
    progress()
  }

  const workers = Array.from({ length: concurrency }, async () => {
    for (;;) {
      const got = await next()
      if (got === undefined) return
      await one(got.item)
    }
  })
  await Promise.all(workers)
  if (showBar) process.stderr.write('\n')
  const summary: WarmSummary = {
    done,
    total: total ?? done,
    failed: failures.length,
    succeeded,
    failures,
    duration: performance.now() - started,
  }
  if (emit.listening['warm:done']) emit.emit('warm:done', summary)
  return summary
}
