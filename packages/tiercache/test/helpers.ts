import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Logger } from '@tiercache/core'

/** A namespace no other test run uses. */
export function uniqueNamespace(label = 't'): string {
  return `${label}-${randomUUID().slice(0, 8)}`
}

/** A temporary directory, removed by the returned `remove()`. */
export function tempDir(): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tiercache-umbrella-'))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** A logger that keeps every line, for assertions. */
export function memoryLogger(): Logger & { lines: { level: string; msg: string }[] } {
  const lines: { level: string; msg: string }[] = []
  const log =
    (level: string) =>
    (_obj: object, msg?: string): void => {
      lines.push({ level, msg: msg ?? '' })
    }
  return { lines, debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') }
}

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
