import { StoreError } from '@tiercache/core/store'

/**
 * The database driver a connection option needs is not installed (or its native part failed
 * to load). Code `E_DRIVER_MISSING`; `driver` names the npm package to install.
 */
export class DriverNotInstalledError extends StoreError {
  /** The npm package to install: `better-sqlite3`, `pg` or `mysql2`. */
  readonly driver: string
  /**
   * @param driver - the npm package name
   * @param option - the connection option that needs it (`sqlite`, `postgres`, `mysql`)
   * @param cause - the import error
   */
  constructor(driver: string, option: string, cause: unknown) {
    const notFound = isModuleNotFound(cause, driver)
    super(
      notFound
        ? `kyselyStore({ ${option} }) needs the package "${driver}", which is not installed: run \`pnpm add ${driver}\` (or npm install ${driver})`
        : `kyselyStore({ ${option} }) could not load the package "${driver}": ${describe(cause)}; reinstall it (\`pnpm add ${driver}\`)`,
      { store: 'sql', operation: 'connect', option, cause },
      'E_DRIVER_MISSING',
    )
    this.driver = driver
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause)
}

/** True when `error` says the module `name` itself (not one of its dependencies) is missing. */
export function isModuleNotFound(error: unknown, name: string): boolean {
  if (typeof error !== 'object' || error === null) return false
  const code = (error as { code?: unknown }).code
  if (code !== 'ERR_MODULE_NOT_FOUND' && code !== 'MODULE_NOT_FOUND') return false
  const message = (error as { message?: unknown }).message
  return typeof message === 'string' && (message.includes(`'${name}'`) || message.includes(`"${name}"`))
}
