/**
 * Compiled by test/error-codes.test.ts (never run): `isTierCacheError(e, code)` narrows to the
 * code's class, and `ErrorCode` is a closed union.
 */
import { CircuitOpenError } from '../../../breaker/src/index.js'
import { DriverNotInstalledError } from '../../../fallback-kysely/src/errors.js'
import { type ErrorByCode, type ErrorCode, isTierCacheError } from '../../src/index.js'

declare const e: unknown

if (isTierCacheError(e, 'E_STORE_TIMEOUT')) {
  const timeout: number = e.timeout
  const code: 'E_STORE_TIMEOUT' = e.code
  void [timeout, code]
}
if (isTierCacheError(e, 'E_VALUE_TOO_LARGE')) {
  const over: number = e.size - e.limit
  void over
}
if (isTierCacheError(e, 'E_HARD_TIMEOUT')) {
  const timeout: number = e.timeout
  void timeout
}
if (isTierCacheError(e, 'E_CIRCUIT_OPEN')) {
  const retryAt: number | undefined = e.retryAt
  const store: string | undefined = e.store
  void [retryAt, store]
}
if (isTierCacheError(e, 'E_DRIVER_MISSING')) {
  const driver: string = e.driver
  void driver
}
if (isTierCacheError(e, 'E_INVALID_KEY')) {
  const asTypeError: TypeError = e
  void asTypeError
}
if (isTierCacheError(e, 'E_INVALID_DURATION')) {
  const asRangeError: RangeError = e
  void asRangeError
}
if (isTierCacheError(e)) {
  const code: ErrorCode = e.code
  void code
}
if (isTierCacheError(e, 'E_STORE')) {
  // @ts-expect-error narrowed to E_STORE: no timeout field
  void e.timeout
}

// @ts-expect-error not a code: the union is closed
isTierCacheError(e, 'E_NOT_A_CODE')
// @ts-expect-error not a code: the union is closed
const unknownCode: ErrorCode = 'E_SOMETHING'
void unknownCode

// The adapter packages' classes have the shapes the codes promise.
const open: ErrorByCode['E_CIRCUIT_OPEN'] = new CircuitOpenError('redis', 'get', 1)
const missing: ErrorByCode['E_DRIVER_MISSING'] = new DriverNotInstalledError('pg', 'postgres', new Error('x'))
void [open, missing]
