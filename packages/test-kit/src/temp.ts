/**
 * Temporary directories for tests that write files (SQLite databases, journals, rendered
 * configuration).
 *
 * @module
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** A temporary directory. */
export interface TempDir {
  /** Its absolute path. */
  readonly dir: string
  /** Removes it and everything in it (idempotent). */
  remove(): void
}

/** Creates a temporary directory named `<label>-XXXXXX` under the OS temporary folder. */
export function tempDir(label = 'tiercache'): TempDir {
  const dir = mkdtempSync(join(tmpdir(), `${label}-`))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}
