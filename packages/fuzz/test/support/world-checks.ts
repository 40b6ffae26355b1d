/**
 * The state a fuzz run keeps (what the fuzzed namespace must hold, every key ever accepted) and
 * the checks that compare it with every tier.
 */
import { defaultSerializer, ERROR_CODES, isTierCacheError } from '@tiercache/core'
import { deepSame } from './compare.js'
import type { Harness } from './harness.js'
import type { ValueGen } from './op-arbitraries.js'
import { describeError, INPUT_CODES, show, type Verdict } from './verdicts.js'

export interface ModelEntry {
  readonly gen: ValueGen
  readonly value: unknown
  /** Long-lived (≥ 1 minute): its presence is checked. */
  readonly long: boolean
  readonly tags: readonly string[]
}

/** The state a run keeps: what the fuzzed namespace holds, and every key ever accepted. */
export class WorldState {
  readonly model = new Map<string, ModelEntry>()
  /** Keys as stored in a remote tier that some accepted call wrote (`fuzz:<rel>`, `fuzz#tags:<tag>`). */
  readonly accepted = new Set<string>()
  /** Keys invalidated by tag: invisible to reads, but their entries may stay in the tiers. */
  readonly ghosts = new Set<string>()
  readonly violations: string[] = []
  readonly storeErrors: unknown[] = []

  constructor(readonly h: Harness) {
    h.cache.on('error', (e) => this.storeErrors.push(e))
  }

  fail(message: string): void {
    this.violations.push(message)
  }

  /**
   * Calls `fn`. A method that returns a promise must report refusals by rejecting it: a
   * synchronous throw is a violation, unless `sync` says the method is synchronous.
   */
  protected async call(
    fn: () => unknown,
    sync = false,
    name = 'a method',
  ): Promise<{ ok: true; value: unknown } | { ok: false; error: unknown }> {
    let result: unknown
    try {
      result = fn()
    } catch (error) {
      if (!sync) this.fail(`${name} threw synchronously instead of rejecting: ${describeError(error)}`)
      return { ok: false, error }
    }
    try {
      return { ok: true, value: await result }
    } catch (error) {
      return { ok: false, error }
    }
  }

  /** Reads one key in every tier; problems when it is not `want` (a model entry, or absent). */
  protected async expectTiers(rel: string, want: ModelEntry | undefined, context: string): Promise<void> {
    for (const tier of this.h.tiers) {
      const got = await tier.read(this.h.root, rel)
      if (want === undefined) {
        if (got.found && !this.ghosts.has(rel))
          this.fail(`${context}: ${show(rel)} is still in ${tier.level}`)
        continue
      }
      if (!want.long) continue
      if (!got.found) {
        this.fail(`${context}: ${show(rel)} is missing from ${tier.level}`)
        continue
      }
      if (tier.level === 'l1_memory') {
        if (!Object.is(got.value, want.value)) {
          const diff = deepSame(got.value, want.value)
          if (diff !== undefined) this.fail(`${context}: ${show(rel)} differs in ${tier.level}: ${diff}`)
        }
        continue
      }
      const expected =
        want.gen.kind === 'normalised'
          ? defaultSerializer.deserialize(defaultSerializer.serialize(want.value))
          : want.value
      const diff = deepSame(got.value, expected)
      if (diff !== undefined) this.fail(`${context}: ${show(rel)} differs in ${tier.level}: ${diff}`)
    }
  }

  /** After a physical delete: absent from every tier (a tag-invalidated ghost included). */
  protected async expectAbsent(rel: string, context: string): Promise<void> {
    this.ghosts.delete(rel)
    await this.expectTiers(rel, undefined, context)
  }

  /** No remote tier holds a key that no accepted call wrote; L1 did not grow. */
  protected async expectNothingNew(l1Before: number, context: string): Promise<void> {
    const l1 = this.h.tiers[0]
    if (l1 !== undefined) {
      const after = await l1.count()
      if (after > l1Before) this.fail(`${context}: L1 grew from ${l1Before} to ${after} entries`)
    }
    for (const tier of this.h.tiers) {
      const keys = await tier.keys()
      if (keys === undefined) continue
      for (const k of keys) {
        if (k === `${this.h.root}:probe`) continue
        if (!this.accepted.has(k) && !this.h.sentinelKeys.has(k)) {
          this.fail(`${context}: ${tier.level} holds ${show(k)}, which no accepted call wrote`)
        }
      }
    }
  }

  protected checkRefused(name: string, v: Verdict, error: unknown): void {
    const code = (error as { code?: unknown } | null)?.code
    if (!isTierCacheError(error)) {
      this.fail(`${name} threw an error that is not a tiercache error: ${describeError(error)}`)
      return
    }
    if (!(ERROR_CODES as readonly string[]).includes(String(code)) || !INPUT_CODES.has(String(code))) {
      this.fail(`${name} threw ${String(code)}, not an input error code`)
      return
    }
    if (v.codes.size === 0 && !v.maybe.has(String(code))) {
      this.fail(`${name} refused valid arguments with ${String(code)}: ${describeError(error)}`)
    } else if (v.codes.size > 0 && !v.codes.has(String(code)) && !v.maybe.has(String(code))) {
      this.fail(
        `${name} refused with ${String(code)}, expected one of ${[...v.codes].join(', ')}: ${describeError(error)}`,
      )
    }
  }

  protected checkAccepted(name: string, v: Verdict): boolean {
    if (v.codes.size > 0) {
      this.fail(`${name} accepted invalid arguments (expected ${[...v.codes].join(', ')})`)
      return false
    }
    return true
  }

  protected remember(
    rel: string,
    gen: ValueGen,
    value: unknown,
    ms: number | undefined,
    tags: readonly string[],
  ): void {
    this.accepted.add(`${this.h.root}:${rel}`)
    this.ghosts.delete(rel)
    this.model.set(rel, { gen, value, long: ms !== undefined && ms >= 60_000, tags })
  }

  /** A key the model does not know may still be in the cache when a short-lived write made it. */
  protected mayExist(rel: string): boolean {
    return this.accepted.has(`${this.h.root}:${rel}`)
  }
}
