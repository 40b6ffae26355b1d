// Runs in a fresh folder where only @tiercache/core is installed.
import { defaultSerializer, isTierCacheError, parseDuration } from '@tiercache/core'
import { validateKey } from '@tiercache/core/store'

const value = { when: new Date(0), tags: new Set(['a']), n: 10n }
const back = defaultSerializer.deserialize(defaultSerializer.serialize(value))
if (!(back.when instanceof Date) || !back.tags.has('a') || back.n !== 10n)
  throw new Error('round trip failed')
if (parseDuration('1h30m') !== 5_400_000) throw new Error('duration failed')
try {
  validateKey('')
  throw new Error('empty key accepted')
} catch (e) {
  if (!isTierCacheError(e, 'E_INVALID_KEY')) throw e
}
console.log('smoke ok')
