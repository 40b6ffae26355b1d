/**
 * The shape checks `createCache` runs on every store in `tiers`, so a malformed store fails at
 * construction with a message naming the store and the member, not later with a `TypeError`
 * deep inside an operation.
 *
 * @module
 */
import { InvalidOptionError } from './errors.js'
import type { Store } from './store.js'

/** The methods every store has. */
const REQUIRED_METHODS = ['get', 'set', 'delete', 'clear'] as const

/** Every optional capability, named after the method it declares. */
export const CAPABILITY_METHODS = [
  'getMany',
  'setMany',
  'deleteMany',
  'deleteByPattern',
  'has',
  'stats',
  'close',
] as const

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40))
  return typeof value
}

/**
 * Throws unless `store` has the shape of a {@link Store}: a non-empty string `name`, `kind`
 * `'memory'` or `'remote'`, `scope` `'local'`, `'shared'` or absent, a `capabilities` object whose
 * flags are booleans, the methods `get`, `set`, `delete` and `clear`, the method of every
 * capability it declares (`lease` and `conditionalSet` for `conditionalSet`), positive `maxTtl` and
 * `maxEntryBytes` when present, and a function `onStatusChange` when present.
 *
 * It checks the declaration, not the behaviour: `runStoreSuite` from
 * `@tiercache/store-test-suite` does that.
 *
 * @param store - the candidate store
 * @param index - its position in `tiers`, for the message
 * @throws InvalidOptionError (`E_INVALID_OPTION`), whose `store` names the store (its `name`, or
 *   `tiers[<index>]` when it has none) and whose `option` names the member (`tiers[1].kind`)
 */
export function validateStore(store: unknown, index: number): asserts store is Store<any> {
  const at = `tiers[${index}]`
  if (typeof store !== 'object' || store === null) {
    throw new InvalidOptionError(`${at} is not a Store (got ${describe(store)})`, { store: at, option: at })
  }
  const s = store as Record<string, unknown>
  const name = s.name
  const label = typeof name === 'string' && name.length > 0 ? `${at} (store "${name}")` : at
  const storeName = typeof name === 'string' && name.length > 0 ? name : at
  const refuse = (member: string, problem: string): never => {
    throw new InvalidOptionError(`${label} is not a Store: ${problem}`, {
      store: storeName,
      option: `${at}.${member}`,
    })
  }
  if (typeof name !== 'string' || name.length === 0) {
    refuse('name', `name must be a non-empty string (got ${describe(name)})`)
  }
  if (s.kind !== 'memory' && s.kind !== 'remote') {
    refuse('kind', `kind must be 'memory' (live values) or 'remote' (bytes) (got ${describe(s.kind)})`)
  }
  const capabilities = s.capabilities
  if (typeof capabilities !== 'object' || capabilities === null || Array.isArray(capabilities)) {
    refuse('capabilities', `capabilities must be an object of flags (got ${describe(capabilities)})`)
  }
  for (const method of REQUIRED_METHODS) {
    if (typeof s[method] !== 'function')
      refuse(method, `${method}() is required (got ${describe(s[method])})`)
  }
  const flags = capabilities as Record<string, unknown>
  for (const capability of CAPABILITY_METHODS) {
    const flag = flags[capability]
    if (flag !== undefined && typeof flag !== 'boolean') {
      refuse(
        `capabilities.${capability}`,
        `capabilities.${capability} must be true, false or absent (got ${describe(flag)})`,
      )
    }
    if (flag === true && typeof s[capability] !== 'function') {
      refuse(
        capability,
        `capability ${capability} is declared but ${capability}() is ${describe(s[capability])}`,
      )
    }
  }
  const conditional = flags.conditionalSet
  if (conditional !== undefined && typeof conditional !== 'boolean') {
    refuse(
      'capabilities.conditionalSet',
      `capabilities.conditionalSet must be true, false or absent (got ${describe(conditional)})`,
    )
  }
  if (conditional === true) {
    for (const method of ['lease', 'conditionalSet'] as const) {
      if (typeof s[method] !== 'function') {
        refuse(method, `capability conditionalSet is declared but ${method}() is ${describe(s[method])}`)
      }
    }
  }
  if (s.scope !== undefined && s.scope !== 'local' && s.scope !== 'shared') {
    refuse('scope', `scope must be 'local', 'shared' or absent (got ${describe(s.scope)})`)
  }
  for (const limit of ['maxTtl', 'maxEntryBytes'] as const) {
    const v = s[limit]
    if (v !== undefined && !(typeof v === 'number' && v > 0)) {
      refuse(
        limit,
        `${limit} must be a positive number of ${limit === 'maxTtl' ? 'milliseconds' : 'bytes'} or absent (got ${describe(v)})`,
      )
    }
  }
  if (s.onStatusChange !== undefined && typeof s.onStatusChange !== 'function') {
    refuse(
      'onStatusChange',
      `onStatusChange must be a function or absent (got ${describe(s.onStatusChange)})`,
    )
  }
}
