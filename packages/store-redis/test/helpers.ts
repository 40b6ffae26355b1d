import { randomUUID } from 'node:crypto'

/** A prefix no other test run uses. */
export function uniquePrefix(label = 't'): string {
  return `tc-test:${label}:${randomUUID().slice(0, 8)}:`
}

/** Commands the store must never send: disabled on every test server. */
export const FORBIDDEN_COMMANDS: readonly string[] = [
  '--rename-command',
  'KEYS',
  '',
  '--rename-command',
  'FLUSHDB',
  '',
  '--rename-command',
  'FLUSHALL',
  '',
]

/** Polls `check` every 10 ms until it returns true or `timeout` ms pass. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeout = 5000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeout
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out after ${timeout}ms waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 10))
  }
}
