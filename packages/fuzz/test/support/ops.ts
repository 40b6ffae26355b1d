/**
 * Operations on a cache with hostile arguments, an oracle of which arguments are valid, and an
 * interpreter that runs them against a {@link Harness} while keeping a model of what the fuzzed
 * namespace must hold. After each operation it checks:
 *
 * - a refused call rejected (or threw) a tiercache error whose stable code is one the invalid
 *   arguments explain, and a call with only valid arguments was not refused;
 * - a refused call stored nothing and lost nothing: every key it names keeps its previous state in
 *   every tier, no tier holds a key that no accepted call wrote, and L1 did not grow;
 * - an accepted write reads back equal from every tier read alone (claimed types exactly; other
 *   accepted values as the serializer normalises them), and from the cache;
 * - deletes, pattern deletes (against a reference glob matcher), clears and tag invalidations
 *   removed exactly what they should, in every tier.
 */
import { type Cache, escapePattern, isTierCacheError } from '@tiercache/core'
import { isPortableText } from '@tiercache/core/store'
import { deepSame } from './compare.js'
import type { Op, ValueGen } from './op-arbitraries.js'
import { referenceMatch } from './reference-glob.js'
import {
  describeError,
  durationMs,
  INPUT_CODES,
  isTagList,
  judgeDuration,
  judgeOptions,
  judgeValue,
  keyOk,
  lifetime,
  optionsArgument,
  show,
  tagsOf,
  verdict,
} from './verdicts.js'
import { type ModelEntry, WorldState } from './world-checks.js'

/** Runs operations against the harness and checks each against the model (see {@link WorldState}). */
export class World extends WorldState {
  /** Runs one operation on the fuzzed namespace (`fz`). */
  async run(op: Op): Promise<void> {
    await this.#run(this.h.cache.namespace('fz'), 'fz:', op)
    if (this.storeErrors.length > 0) {
      this.fail(`a healthy backend reported errors: ${this.storeErrors.map(String).join('; ')}`)
      this.storeErrors.length = 0
    }
  }

  /** Forgets the fuzzed namespace: clears it and checks it is empty in every tier. */
  async reset(): Promise<void> {
    await this.h.cache.namespace('fz').clear()
    for (const rel of [...this.model.keys(), ...this.ghosts]) {
      await this.expectAbsent(rel, 'after clearing the fuzzed namespace')
    }
    this.model.clear()
    this.ghosts.clear()
  }

  async #run(view: Cache, prefix: string, op: Op): Promise<void> {
    const l1Before = (await this.h.tiers[0]?.count()) ?? 0
    const name = `${op.op}${prefix === 'fz:' ? '' : ` in ${show(prefix)}`}`
    switch (op.op) {
      case 'set':
      case 'getOrSet': {
        const v = verdict()
        if (!keyOk(op.key)) v.codes.add('E_INVALID_KEY')
        judgeOptions(v, op.options)
        const rel = keyOk(op.key) ? prefix + op.key : undefined
        const before = rel === undefined ? undefined : this.model.get(rel)
        const present = before?.long === true
        // A loader answering `undefined` is not an error: getOrSet answers it and caches nothing.
        const skips = op.op === 'getOrSet' && op.value.kind === 'refused' && op.value.what === 'undefined'
        if ((op.op === 'set' || !present) && !skips) judgeValue(v, op.value)
        // Values the types refuse (undefined) are sent on purpose: the engine must refuse them too.
        const value = (op.value.kind === 'claimed' ? op.value.value : op.value.make()) as {} | null
        let loaded = false
        const outcome = await this.call(
          () =>
            op.op === 'set'
              ? view.set(op.key as string, value, optionsArgument(op.options) as never)
              : view.getOrSet(
                  op.key as string,
                  () => {
                    loaded = true
                    return value
                  },
                  optionsArgument(op.options) as never,
                ),
          false,
          name,
        )
        if (!outcome.ok) {
          // A getOrSet that found the key never sees the value: only its own arguments count.
          this.checkRefused(name, v, outcome.error)
          if (rel !== undefined) await this.expectTiers(rel, before, `after a refused ${name}`)
          await this.expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.checkAccepted(name, v) || rel === undefined) return
        if (skips && loaded) {
          if (outcome.value !== undefined)
            this.fail(`${name} with a loader answering undefined answered a value`)
          await this.expectTiers(rel, before, `after ${name} whose loader answered undefined`)
          return
        }
        if (op.op === 'getOrSet' && !loaded) {
          if (before === undefined) {
            // Found in the cache without the model knowing it: possible only for short-lived entries.
            return
          }
          const diff = deepSame(outcome.value, before.value)
          if (before.gen.kind === 'claimed' && diff !== undefined)
            this.fail(`${name} answered another value: ${diff}`)
          return
        }
        this.remember(rel, op.value, value, lifetime(op.options), tagsOf(op.options))
        await this.expectTiers(rel, this.model.get(rel), `after ${name}`)
        const entry = this.model.get(rel) as ModelEntry
        if (entry.long) {
          const read = await view.get(op.key as string)
          if (op.value.kind === 'claimed') {
            const diff = deepSame(read, value)
            if (diff !== undefined) this.fail(`get after ${name} differs: ${diff}`)
          }
        }
        return
      }
      case 'get':
      case 'peek':
      case 'has':
      case 'delete': {
        const v = verdict()
        if (!keyOk(op.key)) v.codes.add('E_INVALID_KEY')
        const rel = keyOk(op.key) ? prefix + op.key : undefined
        const before = rel === undefined ? undefined : this.model.get(rel)
        const outcome = await this.call(
          () => (view[op.op] as (k: string) => unknown).call(view, op.key as string),
          op.op === 'peek',
          name,
        )
        if (!outcome.ok) {
          this.checkRefused(name, v, outcome.error)
          if (rel !== undefined) await this.expectTiers(rel, before, `after a refused ${name}`)
          await this.expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.checkAccepted(name, v) || rel === undefined) return
        if (op.op === 'delete') {
          this.model.delete(rel)
          // A deleted ghost is gone from every tier too.
          await this.expectAbsent(rel, `after ${name}`)
        } else if (before?.long) {
          if (op.op === 'has' && outcome.value !== true)
            this.fail(`has(${show(op.key)}) of a stored key answered ${String(outcome.value)}`)
          if ((op.op === 'get' || op.op === 'peek') && before.gen.kind === 'claimed') {
            const diff = deepSame(outcome.value, before.value)
            if (diff !== undefined) this.fail(`${name}(${show(op.key)}) differs: ${diff}`)
          }
        } else if (before === undefined && !this.mayExist(rel)) {
          if (op.op === 'has' && outcome.value !== false)
            this.fail(`has(${show(op.key)}) of a missing key answered ${String(outcome.value)}`)
          if (op.op !== 'has' && outcome.value !== undefined)
            this.fail(`${name}(${show(op.key)}) of a missing key answered a value`)
        }
        await this.expectNothingNew(Number.POSITIVE_INFINITY, `after ${name}`)
        return
      }
      case 'getMany':
      case 'deleteMany': {
        const v = verdict()
        if (!Array.isArray(op.keys)) v.codes.add('E_INVALID_KEY')
        else if (!op.keys.every(keyOk)) v.codes.add('E_INVALID_KEY')
        const rels = Array.isArray(op.keys) ? op.keys.filter(keyOk).map((k) => prefix + k) : []
        const before = new Map(rels.map((r) => [r, this.model.get(r)]))
        const outcome = await this.call(
          () => (view[op.op] as (k: unknown) => unknown).call(view, op.keys),
          false,
          name,
        )
        if (!outcome.ok) {
          this.checkRefused(name, v, outcome.error)
          for (const rel of rels) await this.expectTiers(rel, before.get(rel), `after a refused ${name}`)
          await this.expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.checkAccepted(name, v)) return
        if (op.op === 'deleteMany') {
          for (const rel of rels) {
            this.model.delete(rel)
            await this.expectAbsent(rel, `after ${name}`)
          }
        } else {
          const values = outcome.value as unknown[]
          if (!Array.isArray(values) || values.length !== rels.length) {
            this.fail(
              `getMany of ${rels.length} keys answered ${Array.isArray(values) ? values.length : typeof values} slots`,
            )
            return
          }
          for (const [i, rel] of rels.entries()) {
            const want = this.model.get(rel)
            if (want?.long && want.gen.kind === 'claimed') {
              const diff = deepSame(values[i], want.value)
              if (diff !== undefined) this.fail(`getMany slot ${i} (${show(rel)}) differs: ${diff}`)
            }
          }
        }
        return
      }
      case 'setMany': {
        const v = verdict()
        const items = op.items
        type Item = { key: unknown; gen: ValueGen; ttl?: unknown; tags?: unknown }
        const good: Item[] = []
        if (!Array.isArray(items)) v.codes.add('E_INVALID_OPTION')
        else {
          for (const item of items as unknown[]) {
            if (typeof item !== 'object' || item === null) {
              v.codes.add('E_INVALID_OPTION')
              continue
            }
            const it = item as Item
            if (!keyOk(it.key)) v.codes.add('E_INVALID_KEY')
            judgeValue(v, it.gen)
            if ('ttl' in it) judgeDuration(v, it.ttl)
            if ('tags' in it && !isTagList(it.tags)) v.codes.add('E_INVALID_OPTION')
            good.push(it)
          }
        }
        const arg = Array.isArray(items)
          ? (items as unknown[]).map((item) => {
              if (typeof item !== 'object' || item === null) return item
              const it = item as Item
              const out: Record<string, unknown> = {
                key: it.key,
                value: it.gen.kind === 'claimed' ? it.gen.value : it.gen.make(),
              }
              if ('ttl' in it) out.ttl = it.ttl
              if ('tags' in it) out.tags = it.tags
              return out
            })
          : items
        const rels = good.filter((it) => keyOk(it.key)).map((it) => prefix + (it.key as string))
        const before = new Map(rels.map((r) => [r, this.model.get(r)]))
        const outcome = await this.call(() => view.setMany(arg as never), false, name)
        if (!outcome.ok) {
          this.checkRefused(name, v, outcome.error)
          for (const rel of rels) await this.expectTiers(rel, before.get(rel), `after a refused ${name}`)
          await this.expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.checkAccepted(name, v)) return
        const written = arg as { key: string; value: unknown; ttl?: unknown; tags?: unknown }[]
        for (const [i, it] of written.entries()) {
          const gen = (good[i] as Item).gen
          this.remember(
            prefix + it.key,
            gen,
            it.value,
            durationMs(it.ttl, 3_600_000),
            Array.isArray(it.tags) ? (it.tags as string[]) : [],
          )
        }
        // The last write of a key wins.
        for (const rel of new Set(written.map((it) => prefix + it.key))) {
          await this.expectTiers(rel, this.model.get(rel), `after ${name}`)
        }
        return
      }
      case 'deleteByPattern': {
        const v = verdict()
        const p = op.pattern
        const valid =
          typeof p === 'string' && p.length > 0 && isPortableText(p) && !/(^|[^\\])(\\\\)*\\$/.test(p)
        if (!valid) v.codes.add('E_INVALID_PATTERN')
        const outcome = await this.call(() => view.deleteByPattern(p as string), false, name)
        if (!outcome.ok) {
          this.checkRefused(name, v, outcome.error)
          for (const [rel, entry] of this.model)
            if (rel.startsWith(prefix)) await this.expectTiers(rel, entry, `after a refused ${name}`)
          await this.expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.checkAccepted(name, v)) return
        const full = escapePattern(prefix) + (p as string)
        let longDeleted = 0
        for (const [rel, entry] of [...this.model]) {
          const match = referenceMatch(full, rel)
          if (match) {
            if (entry.long) longDeleted++
            this.model.delete(rel)
            await this.expectAbsent(rel, `after ${name}(${show(p)})`)
          } else {
            await this.expectTiers(rel, entry, `after ${name}(${show(p)}), a key it does not match`)
          }
        }
        for (const rel of [...this.ghosts]) {
          if (referenceMatch(full, rel))
            await this.expectAbsent(rel, `after ${name}(${show(p)}), a tag-invalidated key`)
        }
        if (typeof outcome.value !== 'number' || outcome.value < longDeleted) {
          this.fail(
            `${name}(${show(p)}) answered ${String(outcome.value)} but deleted at least ${longDeleted} keys`,
          )
        }
        return
      }
      case 'invalidateTags': {
        const v = verdict()
        if (!isTagList(op.tags) || op.tags === undefined) v.codes.add('E_INVALID_OPTION')
        const outcome = await this.call(() => view.invalidateTags(op.tags as string[]), false, name)
        if (!outcome.ok) {
          this.checkRefused(name, v, outcome.error)
          await this.expectNothingNew(l1Before, `after a refused ${name}`)
          return
        }
        if (!this.checkAccepted(name, v)) return
        const tags = new Set(op.tags as string[])
        for (const tag of tags) this.accepted.add(`${this.h.root}#tags:${tag}`)
        for (const [rel, entry] of [...this.model]) {
          if (!entry.tags.some((t) => tags.has(t))) continue
          this.model.delete(rel)
          this.ghosts.add(rel)
          const key = rel.slice('fz:'.length)
          const read = await this.h.cache.namespace('fz').get(key)
          if (read !== undefined)
            this.fail(`get(${show(rel)}) after invalidating one of its tags answered a value`)
        }
        return
      }
      case 'clear': {
        const outcome = await this.call(() => view.clear(), false, name)
        if (!outcome.ok) {
          this.fail(`clear() failed: ${describeError(outcome.error)}`)
          return
        }
        for (const rel of [...this.model.keys(), ...this.ghosts]) {
          if (!rel.startsWith(prefix)) continue
          this.model.delete(rel)
          await this.expectAbsent(rel, `after clear() of ${show(prefix)}`)
        }
        return
      }
      case 'namespace': {
        const n = op.name
        const ok = typeof n === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(n)
        const outcome = await this.call(() => view.namespace(n as string), true)
        if (!outcome.ok) {
          const v = verdict()
          v.codes.add('E_INVALID_OPTION')
          this.checkRefused(`namespace(${show(n)})`, ok ? verdict() : v, outcome.error)
          return
        }
        if (!ok) {
          this.fail(`namespace(${show(n)}) accepted an invalid name`)
          return
        }
        await this.#run(outcome.value as Cache, `${prefix}${n}:`, op.inner)
        return
      }
      case 'wrap': {
        const v = verdict()
        if (typeof op.name !== 'string' || op.name.length === 0) v.codes.add('E_INVALID_OPTION')
        // Values the types refuse (undefined) are sent on purpose: the engine must refuse them too.
        const value = (op.value.kind === 'claimed' ? op.value.value : op.value.make()) as {} | null
        const made = await this.call(() => view.wrap(op.name as string, () => value), true)
        if (!made.ok) {
          this.checkRefused(`wrap(${show(op.name)})`, v, made.error)
          return
        }
        if (!this.checkAccepted(`wrap(${show(op.name)})`, v)) return
        const fn = made.value as ((...args: unknown[]) => Promise<unknown>) & {
          keyFor(...args: unknown[]): string
        }
        const keyOutcome = await this.call(() => fn.keyFor(...op.args), true)
        const callOutcome = await this.call(() => fn(...op.args), false, 'a wrapped call')
        if (!keyOutcome.ok) {
          // Arguments that cannot make a key: the call must be refused the same way.
          this.checkRefused(
            'wrap key',
            { codes: new Set(['E_INVALID_OPTION']), maybe: new Set() },
            keyOutcome.error,
          )
          if (callOutcome.ok) this.fail('a wrapped call whose arguments make no key was not refused')
          else
            this.checkRefused(
              'wrapped call',
              { codes: new Set(['E_INVALID_OPTION']), maybe: new Set() },
              callOutcome.error,
            )
          await this.expectNothingNew(l1Before, 'after a refused wrapped call')
          return
        }
        const key = keyOutcome.value as string
        const cv = verdict()
        if (!keyOk(key)) cv.codes.add('E_INVALID_KEY')
        const rel = keyOk(key) ? prefix + key : undefined
        const before = rel === undefined ? undefined : this.model.get(rel)
        // Like getOrSet, a wrapped function answering `undefined` is answered and not cached.
        const skips = op.value.kind === 'refused' && op.value.what === 'undefined'
        if (!before?.long && !skips) judgeValue(cv, op.value)
        if (!callOutcome.ok) {
          this.checkRefused('wrapped call', cv, callOutcome.error)
          if (rel !== undefined) await this.expectTiers(rel, before, 'after a refused wrapped call')
          await this.expectNothingNew(l1Before, 'after a refused wrapped call')
          return
        }
        if (!this.checkAccepted('wrapped call', cv) || rel === undefined || before !== undefined) return
        if (skips) {
          if (callOutcome.value !== undefined)
            this.fail('a wrapped function answering undefined answered a value')
          await this.expectAbsent(rel, 'after a wrapped call that answered undefined')
          return
        }
        this.remember(rel, op.value, value, 3_600_000, [])
        await this.expectTiers(rel, this.model.get(rel), 'after a wrapped call')
        return
      }
      case 'warm': {
        const src = op.source
        // Values the types refuse (undefined) are sent on purpose: the engine must refuse them too.
        const value = (op.value.kind === 'claimed' ? op.value.value : op.value.make()) as {} | null
        const outcome = await this.call(
          () => view.warm(src as string[], { loader: () => value }),
          false,
          'warm',
        )
        if (!Array.isArray(src)) {
          if (outcome.ok) this.fail(`warm(${show(src)}) accepted a source that is not a list of keys`)
          else
            this.checkRefused(
              `warm(${show(src)})`,
              { codes: new Set(['E_INVALID_OPTION']), maybe: new Set() },
              outcome.error,
            )
          await this.expectNothingNew(l1Before, 'after a refused warm')
          return
        }
        if (!outcome.ok) {
          this.fail(`warm of a list failed as a whole: ${describeError(outcome.error)}`)
          return
        }
        const summary = outcome.value as { failures: { key: string; error: unknown }[]; succeeded: number }
        for (const f of summary.failures) {
          if (!isTierCacheError(f.error) || !INPUT_CODES.has(String((f.error as { code: unknown }).code))) {
            this.fail(`warm reported a failure that is not a typed input error: ${describeError(f.error)}`)
          }
        }
        // A string is a key (loaded with the loader); anything else is taken as a { key, value }
        // entry, and a non-object one is refused.
        let invalid = 0
        for (const key of src) {
          const v = verdict()
          if (!keyOk(key)) v.codes.add('E_INVALID_KEY')
          judgeValue(v, op.value)
          if (v.codes.size > 0) {
            invalid++
            continue
          }
          if (summary.failures.some((f) => f.key === key))
            this.fail(`warm refused the valid key ${show(key)}`)
          this.remember(prefix + (key as string), op.value, value, 3_600_000, [])
        }
        if (summary.failures.length !== invalid) {
          this.fail(
            `warm of ${src.length} items with ${invalid} invalid ones reported ${summary.failures.length} failures`,
          )
        }
        for (const key of new Set(src.filter(keyOk))) {
          if (op.value.kind !== 'refused')
            await this.expectTiers(prefix + key, this.model.get(prefix + key), 'after warm')
        }
        await this.expectNothingNew(Number.POSITIVE_INFINITY, 'after warm')
        return
      }
    }
  }
}
