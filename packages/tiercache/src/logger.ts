import { InvalidOptionError, type Logger } from '@tiercache/core'

/** Levels of {@link consoleLogger}, least severe first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const RANK: Readonly<Record<LogLevel, number>> = { debug: 0, info: 1, warn: 2, error: 3 }

function render(obj: object, msg: string | undefined): string {
  const err = (obj as { err?: unknown }).err
  const rest = Object.entries(obj).filter(([k, v]) => k !== 'err' && v !== undefined)
  let line = msg ?? ''
  if (rest.length > 0)
    line += ` ${rest.map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')}`
  if (err !== undefined) line += `: ${err instanceof Error ? err.message : String(err)}`
  return line
}

/**
 * A pino-compatible {@link Logger} that writes one line per message to the console
 * (`console.warn` for `warn`, `console.error` for `error`, `console.log` otherwise), dropping
 * messages below `level`. The default logger of {@link createDistributedCache} is
 * `consoleLogger('warn')`.
 *
 * @param level - the least severe level written
 * @default level 'warn'
 * @example
 * ```ts
 * const logger = consoleLogger('info')
 * logger.warn({ where: '127.0.0.1:6379/0' }, 'tiercache: Redis is not answering')
 * ```
 */
export function consoleLogger(level: LogLevel = 'warn'): Logger {
  const min = RANK[level]
  if (min === undefined) {
    throw new InvalidOptionError(`consoleLogger: unknown level ${String(level)}`, { option: 'level' })
  }
  return {
    debug: (obj, msg) => {
      if (min <= 0) console.log(render(obj, msg))
    },
    info: (obj, msg) => {
      if (min <= 1) console.log(render(obj, msg))
    },
    warn: (obj, msg) => {
      if (min <= 2) console.warn(render(obj, msg))
    },
    error: (obj, msg) => console.error(render(obj, msg)),
  }
}

/** A logger that drops everything. */
export const silentLogger: Logger = Object.freeze({
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
})
