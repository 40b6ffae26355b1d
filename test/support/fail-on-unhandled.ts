/**
 * Loaded by every test project (see vitest.shared.ts): any unhandled rejection or uncaught
 * exception during a test fails that test, so background work that leaks a rejection cannot
 * pass unnoticed.
 */
import { afterAll, afterEach } from 'vitest'

// Any unhandled rejection or uncaught exception during a test file fails it.
const problems: unknown[] = []
const onRejection = (reason: unknown): void => void problems.push(reason)
const onException = (error: unknown): void => void problems.push(error)
process.on('unhandledRejection', onRejection)
process.on('uncaughtException', onException)

afterEach(() => {
  if (problems.length > 0) {
    const found = problems.splice(0)
    throw new Error(`unhandled rejection or uncaught exception: ${found.map(String).join('; ')}`)
  }
})

afterAll(() => {
  process.off('unhandledRejection', onRejection)
  process.off('uncaughtException', onException)
})
