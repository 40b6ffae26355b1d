/**
 * Loaded by every test project (see vitest.shared.ts): any unhandled rejection or uncaught
 * exception during a test fails that test, so background work that leaks a rejection cannot
 * pass unnoticed.
 *
 * @module
 */
import { afterAll, afterEach } from 'vitest'

const problems: unknown[] = []
const onRejection = (reason: unknown): void => void problems.push(reason)
const onException = (error: unknown): void => void problems.push(error)
process.on('unhandledRejection', onRejection)
process.on('uncaughtException', onException)

afterEach(async () => {
  // A rejection left by the test's last await surfaces on a later turn: let it in first.
  await new Promise((resolve) => setImmediate(resolve))
  if (problems.length > 0) {
    const found = problems.splice(0)
    throw new Error(`unhandled rejection or uncaught exception: ${found.map(String).join('; ')}`)
  }
})

afterAll(() => {
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
})
