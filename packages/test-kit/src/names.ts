/**
 * Names no other test run uses, so parallel runs on the shared Redis, PostgreSQL and MariaDB
 * servers never collide.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'

/** Eight random characters. */
export function uniqueId(): string {
  return randomUUID().slice(0, 8)
}

/** A name no other test run uses: `<label>-<8 random characters>`. */
export function uniqueName(label = 't'): string {
  return `${label}-${uniqueId()}`
}

/** A Redis key prefix no other test run uses: `tc-test:<label>:<8 random characters>:`. */
export function uniquePrefix(label = 't'): string {
  return `tc-test:${label}:${uniqueId()}:`
}

/** An SQL table name no other run uses: `<label>_<8 random characters>` (letters, digits, `_`). */
export function uniqueTable(label = 'tc_test'): string {
  return `${label}_${uniqueId()}`
}
