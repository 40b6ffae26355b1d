import type { Bus, Store } from '@tiercache/core'
import type { BusHandlers, BusMessage, StoreEntry, StoreSetItem } from '@tiercache/core/store'
import { compilePattern } from '@tiercache/core/store'

// In-memory test stores, copied from packages/core/test/helpers.ts.

/** A minimal synchronous memory store (the real one is @tiercache/store-memory). */
export function localStore(clock: { now(): number } = Date): Store<unknown> & {
  map: Map<string, StoreEntry<unknown>>
} {
  const map = new Map<string, StoreEntry<unknown>>()
  const live = (key: string): StoreEntry<unknown> | undefined => {
    const e = map.get(key)
    if (e === undefined) return undefined
    if (e.staleUntil <= clock.now()) {
      map.delete(key)
      return undefined
    }
    return e
  }
  return {
    name: 'memory',
    kind: 'memory',
    capabilities: { deleteByPattern: true, has: true, stats: true },
    map,
    get: live,
    set(key, entry) {
      map.set(key, entry)
    },
    delete: (key) => map.delete(key),
    clear(ns) {
      for (const k of [...map.keys()]) if (ns === '' || k.startsWith(`${ns}:`)) map.delete(k)
    },
    deleteByPattern(pattern) {
      const match = compilePattern(pattern)
      let n = 0
      for (const k of [...map.keys()]) if (match(k) && map.delete(k)) n++
      return n
    },
    has: (key) => live(key) !== undefined,
    stats: () => ({ entries: map.size, bytes: [...map.values()].reduce((a, e) => a + (e.size ?? 0), 0) }),
  }
}

/** An async remote store over a Map (bytes). */
export function remoteStore(
  options: { name?: string; clock?: { now(): number }; map?: Map<string, StoreEntry<Uint8Array>> } = {},
): Store<Uint8Array> & { map: Map<string, StoreEntry<Uint8Array>> } {
  const clock = options.clock ?? Date
  const map = options.map ?? new Map<string, StoreEntry<Uint8Array>>()
  const live = (key: string): StoreEntry<Uint8Array> | undefined => {
    const e = map.get(key)
    if (e === undefined) return undefined
    if (e.staleUntil <= clock.now()) {
      map.delete(key)
      return undefined
    }
    return e
  }
  return {
    name: options.name ?? 'remote',
    kind: 'remote',
    capabilities: { getMany: true, setMany: true, deleteMany: true, deleteByPattern: true, has: true },
    map,
    async get(key) {
      return live(key)
    },
    async set(key, entry) {
      map.set(key, { ...entry, value: Buffer.from(entry.value) })
    },
    async delete(key) {
      return map.delete(key)
    },
    async clear(ns) {
      for (const k of [...map.keys()]) if (ns === '' || k.startsWith(`${ns}:`)) map.delete(k)
    },
    async getMany(keys) {
      return keys.map(live)
    },
    async setMany(items: readonly StoreSetItem<Uint8Array>[]) {
      for (const [k, e] of items) map.set(k, { ...e, value: Buffer.from(e.value) })
    },
    async deleteMany(keys) {
      let n = 0
      for (const k of keys) if (map.delete(k)) n++
      return n
    },
    async deleteByPattern(pattern) {
      const match = compilePattern(pattern)
      let n = 0
      for (const k of [...map.keys()]) if (match(k) && map.delete(k)) n++
      return n
    },
    async has(key) {
      return live(key) !== undefined
    },
  }
}

/** An in-process bus hub: every bus made by `connect()` hears every other. */
export function busHub(): { connect(): Bus } {
  const members = new Set<{ handlers: BusHandlers | undefined }>()
  return {
    connect(): Bus {
      const me: { handlers: BusHandlers | undefined } = { handlers: undefined }
      members.add(me)
      return {
        subscribe(handlers) {
          me.handlers = handlers
        },
        publish(message: BusMessage) {
          for (const m of members) m.handlers?.message(structuredClone(message))
        },
        close() {
          members.delete(me)
        },
      }
    },
  }
}

/** One sample of the Prometheus text format. */
export interface Sample {
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** Parses the Prometheus text exposition format (what prom-client writes). */
export function parseMetrics(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (m === null) throw new Error(`unparsable metrics line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c))
    }
    out.push({
      name: m[1] as string,
      labels,
      value: Number(m[3] === '+Inf' ? Number.POSITIVE_INFINITY : m[3]),
    })
  }
  return out
}

/** Samples of `name` whose labels include `labels`. */
export function select(
  samples: readonly Sample[],
  name: string,
  labels: Record<string, string> = {},
): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}

/** The sum of the samples of `name` whose labels include `labels` (0 when there are none). */
export function sum(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  return select(samples, name, labels).reduce((a, s) => a + s.value, 0)
}

/** The one sample of `name` with these labels (throws when there is not exactly one). */
export function one(samples: readonly Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = select(samples, name, labels)
  if (found.length !== 1) {
    throw new Error(`expected one ${name}${JSON.stringify(labels)}, found ${found.length}`)
  }
  return (found[0] as Sample).value
}

/** Scrapes a registry (or anything with metrics()) into samples. */
export async function scrape(registry: { metrics(): Promise<string> }): Promise<Sample[]> {
  return parseMetrics(await registry.metrics())
}

/** A unique namespace for a test cache. */
export function uniqueNamespace(label = 't'): string {
  return `${label}-${Math.random().toString(36).slice(2, 10)}`
}
