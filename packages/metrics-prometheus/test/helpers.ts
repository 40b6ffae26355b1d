import type { Store } from '@tiercache/core'
import type { StoreEntry } from '@tiercache/core/store'
import { BATCH_CAPABILITIES, remoteStore } from '@tiercache/test-kit'

/** The kit's remote store without leases (batch calls, patterns and `has` only). */
export function plainRemote(
  options: { name?: string; clock?: { now(): number }; map?: Map<string, StoreEntry<Uint8Array>> } = {},
): Store<Uint8Array> & { map: Map<string, StoreEntry<Uint8Array>> } {
  const { clock = Date, ...rest } = options
  return remoteStore(clock, { ...rest, caps: BATCH_CAPABILITIES })
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
