import type { MaybePromise, Store, StoreSetItem } from '@tiercache/core/store'
import type { Journal, KeyIntent, RangeIntent } from './journal.js'

/** Replay passes before a replay gives way (new intents may arrive while it runs). */
const MAX_PASSES = 4
/** Keys per `deleteMany`. */
const DELETE_CHUNK = 500
/** Entries per `setMany`. */
const SET_CHUNK = 100
/** Replay calls (batches, or single calls when the store has no batch operation) run at once. */
const PARALLELISM = 8

/** What a replay call writes: its order and the keys or range it touches. @internal */
export interface ReplayWrite {
  readonly seq: number
  readonly keys?: readonly string[]
  readonly range?: RangeIntent
}

/** What {@link replayJournal} works on. @internal */
export interface ReplayTarget<V> {
  readonly journal: Journal<V>
  readonly store: Store<V>
  /** The store has a usable `deleteMany` / `setMany`. */
  readonly canDeleteMany: boolean
  readonly canSetMany: boolean
  /**
   * True when a journaled write of `key` must reach the store as a delete: on a shared store
   * another instance may have written a newer value since, and a delete never resurrects an
   * older one.
   */
  invalidates(key: string): boolean
  /** Current time, epoch ms. */
  now(): number
  /**
   * Runs one call to the store on behalf of the replay (bounded by the timeout and counted by
   * the breaker). Rejects when the call fails, or when the replay must stop.
   */
  call(operation: string, run: () => MaybePromise<unknown>, write: ReplayWrite): Promise<void>
  /** Called after each pass (the journal may have emptied). */
  afterPass(): void
  /** Told each time intents were applied (and left the journal), with how many. */
  applied(count: number): void
}

/**
 * Replays the journal to the store: clears and pattern deletes first (in order), then per-key
 * deletes and writes in batches, a few batches at a time (their keys are disjoint). An intent
 * leaves the journal once the store applied it, unless a newer one replaced it meanwhile.
 * Intents journaled during a pass are replayed by the next one, up to 4 passes.
 *
 * @returns how many intents were applied
 * @throws the first failure; intents not applied stay journaled
 * @internal
 */
export async function replayJournal<V>(target: ReplayTarget<V>): Promise<number> {
  const { journal, store } = target
  let applied = 0
  for (let pass = 0; pass < MAX_PASSES && journal.size > 0; pass++) {
    const snapshot = journal.snapshot()
    for (const range of snapshot.ranges) {
      await target.call(
        range.type === 'clear' ? 'clear' : 'deleteByPattern',
        () =>
          range.type === 'clear'
            ? store.clear(range.namespace)
            : (store.deleteByPattern as (p: string) => MaybePromise<number>).call(store, range.pattern),
        { seq: range.seq, range },
      )
    }
    journal.settleRanges(snapshot.ranges)
    applied += snapshot.ranges.length
    if (snapshot.ranges.length > 0) target.applied(snapshot.ranges.length)

    const now = target.now()
    const deletes: (readonly [string, KeyIntent<V>])[] = []
    const sets: (readonly [string, KeyIntent<V> & { type: 'set' }])[] = []
    for (const item of snapshot.keys) {
      const intent = item[1]
      // A journaled write that expired meanwhile, or that a shared store must not take late,
      // becomes a delete.
      if (intent.type === 'set' && intent.entry.staleUntil > now && !target.invalidates(item[0])) {
        sets.push([item[0], intent])
      } else deletes.push(item)
    }
    const tasks: (() => Promise<number>)[] = []
    const batch = (
      chunk: readonly (readonly [string, KeyIntent<V>])[],
      operation: string,
      run: () => MaybePromise<unknown>,
    ): void => {
      tasks.push(async () => {
        await target.call(operation, run, { seq: maxSeq(chunk), keys: chunk.map((c) => c[0]) })
        journal.settleKeys(chunk)
        target.applied(chunk.length)
        return chunk.length
      })
    }
    const deleteChunk = target.canDeleteMany ? DELETE_CHUNK : 1
    for (let i = 0; i < deletes.length; i += deleteChunk) {
      const chunk = deletes.slice(i, i + deleteChunk)
      const keys = chunk.map((c) => c[0])
      if (target.canDeleteMany) {
        const deleteMany = store.deleteMany as (k: readonly string[]) => MaybePromise<number>
        batch(chunk, 'deleteMany', () => deleteMany.call(store, keys))
      } else batch(chunk, 'delete', () => store.delete(keys[0] as string))
    }
    const setChunk = target.canSetMany ? SET_CHUNK : 1
    for (let i = 0; i < sets.length; i += setChunk) {
      const chunk = sets.slice(i, i + setChunk)
      const items: StoreSetItem<V>[] = chunk.map(([key, intent]) => [key, intent.entry])
      if (target.canSetMany) {
        const setMany = store.setMany as (i: readonly StoreSetItem<V>[]) => MaybePromise<void>
        batch(chunk, 'setMany', () => setMany.call(store, items))
      } else {
        const [key, entry] = items[0] as StoreSetItem<V>
        batch(chunk, 'set', () => store.set(key, entry))
      }
    }
    const done = await runLimited(tasks, PARALLELISM)
    applied += done
    target.afterPass()
  }
  return applied
}

/**
 * Runs tasks at most `limit` at a time and sums their results. On the first failure no new task
 * starts; the ones running are awaited, then the failure is thrown.
 */
async function runLimited(tasks: readonly (() => Promise<number>)[], limit: number): Promise<number> {
  let next = 0
  let total = 0
  let failure: { error: unknown } | undefined
  const lane = async (): Promise<void> => {
    while (failure === undefined && next < tasks.length) {
      const task = tasks[next++] as () => Promise<number>
      try {
        const done = await task()
        total += done
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, lane))
  if (failure !== undefined) throw failure.error
  return total
}

function maxSeq(items: readonly (readonly [string, { readonly seq: number }])[]): number {
  let max = 0
  for (const [, intent] of items) if (intent.seq > max) max = intent.seq
  return max
}
