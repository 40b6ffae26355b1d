import type { Cache } from '@tiercache/core'

/** One finished cache call. */
export interface Sample {
  /** `performance.now()` when the call started. */
  readonly start: number
  /** How long it took, in milliseconds. */
  readonly ms: number
  /** The cache method. */
  readonly op: string
}

/** A steady mixed load on a cache, from a few concurrent workers. */
export interface Load {
  /** Every finished call so far. */
  readonly samples: Sample[]
  /** Every error a cache call threw (the test expects none). */
  readonly failures: unknown[]
  /** Keys deleted, with the time the delete started. */
  readonly deleted: { readonly key: string; readonly at: number }[]
  /** Stops the workers and waits for their last calls. */
  stop(): Promise<void>
}

export const value = (i: number): { i: number; text: string } => ({ i, text: `value ${i} `.repeat(4) })

/**
 * Runs `workers` loops of reads (get, getMany), writes (set), deletes of `victims` (each deleted
 * once, in order) and getOrSet over `keys`, each loop pausing `pauseMs` between calls.
 */
export function startLoad(
  cache: Cache,
  options: { keys: number; victims: string[]; workers?: number; pauseMs?: number },
): Load {
  const samples: Sample[] = []
  const failures: unknown[] = []
  const deleted: { key: string; at: number }[] = []
  let stopped = false
  let seed = 12345
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed / 0x7fffffff
  }
  const key = (): string => `k${Math.floor(random() * options.keys)}`
  const pause = options.pauseMs ?? 2
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const r = random()
      const start = performance.now()
      let op: string
      try {
        if (r < 0.35) {
          op = 'get'
          await cache.get(key())
        } else if (r < 0.45) {
          op = 'getMany'
          await cache.getMany([key(), key(), key()])
        } else if (r < 0.6) {
          op = 'set'
          const k = key()
          await cache.set(k, value(Number(k.slice(1))))
        } else if (r < 0.7 && options.victims.length > 0) {
          op = 'delete'
          const victim = options.victims.shift() as string
          deleted.push({ key: victim, at: start })
          await cache.delete(victim)
        } else {
          op = 'getOrSet'
          const k = key()
          await cache.getOrSet(k, async () => value(Number(k.slice(1))))
        }
      } catch (error) {
        op = 'failed'
        failures.push(error)
      }
      samples.push({ start, ms: performance.now() - start, op })
      await new Promise((resolve) => setTimeout(resolve, pause))
    }
  }
  const running = Array.from({ length: options.workers ?? 6 }, worker)
  return {
    samples,
    failures,
    deleted,
    stop: async () => {
      stopped = true
      await Promise.all(running)
    },
  }
}

/** The p-th percentile (0-100) of call durations, in milliseconds. */
export function percentile(samples: readonly Sample[], p: number): number {
  if (samples.length === 0) return 0
  const sorted = samples.map((s) => s.ms).sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}
