import type { Logger } from '@tiercache/core'

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
