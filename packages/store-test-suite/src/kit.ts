import {
  defaultSerializer,
  type Serializer,
  type Store,
  type StoreCapabilities,
  type StoreEntry,
} from '@tiercache/core'
import type { ExpectLike, StoreSuiteOptions, TestLike } from './options.js'
import { sameValue } from './samples.js'

/** The capability flags a store may declare, each naming the method it promises. */
export const CAPABILITY_NAMES = [
  'getMany',
  'setMany',
  'deleteMany',
  'deleteByPattern',
  'has',
  'stats',
  'close',
] as const

/** Codes a store failure may carry. */
export const STORE_FAILURE_CODES: readonly string[] = [
  'E_STORE',
  'E_STORE_TIMEOUT',
  'E_CIRCUIT_OPEN',
  'E_CLOSED',
]

let counter = 0
/** A namespace no other test of this process uses. */
export function uniqueNamespace(): string {
  counter++
  return `ts${process.pid.toString(36)}${Date.now().toString(36)}${counter.toString(36)}`
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** How a call ended: its value, its error, or nothing within the deadline. */
export type Settled = { ok: true; value: unknown } | { ok: false; error: unknown } | { ok: 'hung' }

/** Runs `fn`, never rejecting; reports a call that has not settled after `ms` as hung. */
export async function settle(fn: () => unknown, ms: number): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ ok: 'hung' }), ms)
  })
  const run = (async (): Promise<Settled> => {
    try {
      return { ok: true, value: await fn() }
    } catch (error) {
      return { ok: false, error }
    }
  })()
  try {
    return await Promise.race([run, hung])
  } finally {
    clearTimeout(timer)
  }
}

/** A short description of a value for an assertion message. */
export function show(value: unknown): string {
  if (value instanceof Uint8Array) return `${value.constructor.name}(${value.byteLength})`
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)
  if (typeof value === 'object' && value !== null)
    return `an object (${Object.keys(value).slice(0, 5).join(', ')})`
  return String(value)
}

/** What the suite's tests share: the options, the runner and the helpers built from them. */
export interface SuiteKit {
  readonly options: StoreSuiteOptions
  readonly test: TestLike
  readonly expect: ExpectLike
  readonly create: StoreSuiteOptions['create']
  readonly serializer: Serializer
  /** The store's TTL granularity, in ms. */
  readonly granularity: number
  /** One test's timeout, in ms. */
  readonly timeout: number
  /** How long one call may take before the suite calls it hung (well inside the test timeout), in ms. */
  readonly callDeadline: number
  /** Runs `fn` with a fresh store and a unique namespace, closing the store afterwards. */
  readonly withStore: (fn: (store: Store<any>, ns: string) => Promise<void>) => () => Promise<void>
  readonly caps: (store: Store<any>) => StoreCapabilities
  /** Builds an entry of the right kind for the store. */
  readonly entryFor: (
    store: Store<any>,
    value: unknown,
    meta?: Partial<Omit<StoreEntry, 'value'>>,
  ) => StoreEntry<any>
  /** Decodes what a store returned to the live value; names `kind` when the value has the wrong form. */
  readonly decoded: (store: Store<any>, entry: StoreEntry<any>, label: string) => unknown
  readonly expectSame: (actual: unknown, expected: unknown, label: string) => void
  readonly present: (store: Store<any>, key: string) => Promise<boolean>
}

/** Builds the helpers the suite's tests share from the suite's options. */
export function suiteKit(options: StoreSuiteOptions): SuiteKit {
  const { test, expect, create } = options
  const serializer = options.serializer ?? defaultSerializer
  const granularity = options.ttlGranularity ?? 100
  const timeout = options.timeout ?? 30_000
  const callDeadline = Math.max(1000, Math.floor(timeout / 3))

  const withStore = (fn: (store: Store<any>, ns: string) => Promise<void>) => async (): Promise<void> => {
    const store = await create()
    try {
      await fn(store, uniqueNamespace())
    } finally {
      await store.close?.()
    }
  }

  const entryFor = (
    store: Store<any>,
    value: unknown,
    meta: Partial<Omit<StoreEntry, 'value'>> = {},
  ): StoreEntry<any> => {
    const now = Date.now()
    const bytes = serializer.serialize(value)
    return {
      value: store.kind === 'memory' ? value : bytes,
      createdAt: meta.createdAt ?? now,
      freshUntil: meta.freshUntil ?? now + 60_000,
      staleUntil: meta.staleUntil ?? now + 120_000,
      tags: meta.tags ?? [],
      size: meta.size ?? bytes.byteLength,
    }
  }

  const decoded = (store: Store<any>, entry: StoreEntry<any>, label: string): unknown => {
    if (store.kind === 'memory') return entry.value
    const bytes = entry.value as unknown
    if (!(bytes instanceof Uint8Array)) {
      throw new Error(
        `${label}: the store returned ${show(bytes)} where a kind: 'remote' store returns the Uint8Array it was given ` +
          `(a store that keeps live values declares kind: 'memory')`,
      )
    }
    return serializer.deserialize(bytes)
  }

  return {
    options,
    test,
    expect,
    create,
    serializer,
    granularity,
    timeout,
    callDeadline,
    withStore,
    caps: (store) => store.capabilities,
    entryFor,
    decoded,
    expectSame: (actual, expected, label) => {
      expect(sameValue(actual, expected, label), label).toBeUndefined()
    },
    present: async (store, key) => (await store.get(key)) !== undefined,
  }
}
