import { readdirSync } from 'node:fs'
import { basename, join, resolve } from 'node:path'
import { defineProject, type UserWorkspaceConfig } from 'vitest/config'

const root = import.meta.dirname
const packagesDir = join(root, 'packages')

/**
 * Maps `@tiercache/<name>` (and the subpaths `@tiercache/core/store`, `@tiercache/core/testing`, `@tiercache/test-kit/*`) to
 * package sources, so tests need no build. Subpaths come first: the first matching alias wins.
 */
export function sourceAliases(): Record<string, string> {
  const aliases: Record<string, string> = {
    '@tiercache/core/store': join(packagesDir, 'core/src/store-kit.ts'),
    '@tiercache/core/testing': join(packagesDir, 'core/src/testing/index.ts'),
    '@tiercache/test-kit/http': join(packagesDir, 'test-kit/src/http/index.ts'),
    '@tiercache/test-kit/readme': join(packagesDir, 'test-kit/src/readme.ts'),
  }
  for (const dir of readdirSync(packagesDir)) {
    const name = dir === 'tiercache' ? 'tiercache' : `@tiercache/${dir}`
    aliases[name] = join(packagesDir, dir, 'src/index.ts')
  }
  return aliases
}

/**
 * The vitest project for one package: tests in `test/**\/*.test.ts`, sources aliased.
 *
 * @param dir - the package directory (pass `import.meta.dirname`)
 * @param test - extra test options
 */
export function tiercacheProject(dir: string, test: UserWorkspaceConfig['test'] = {}): UserWorkspaceConfig {
  const { setupFiles, ...rest } = test ?? {}
  const extraSetup = setupFiles === undefined ? [] : Array.isArray(setupFiles) ? setupFiles : [setupFiles]
  return defineProject({
    resolve: { alias: sourceAliases() },
    test: {
      name: basename(resolve(dir)),
      root: dir,
      include: ['test/**/*.test.ts'],
      environment: 'node',
      testTimeout: 30_000,
      hookTimeout: 60_000,
      // Every project fails a test on an unhandled rejection or uncaught exception.
      setupFiles: [join(packagesDir, 'test-kit/src/fail-on-unhandled.ts'), ...extraSetup],
      ...rest,
    },
  })
}
