import { join } from 'node:path'
import { tiercacheProject } from '../../vitest.shared.js'

/**
 * The whole store-redis suite again, on ioredis 6 (installed as the `ioredis6` alias): the peer
 * range is `^5.4.0 || ^6.0.0`, and both majors are tested. `pnpm exec vitest run --project
 * store-redis-ioredis6` runs it alone.
 */
const project = tiercacheProject(import.meta.dirname, {
  name: 'store-redis-ioredis6',
  env: { TIERCACHE_IOREDIS_MAJOR: '6' },
})
const ioredis6 = join(import.meta.dirname, 'node_modules', 'ioredis6')

export default {
  ...project,
  resolve: {
    ...project.resolve,
    alias: [
      { find: /^ioredis$/, replacement: ioredis6 },
      ...Object.entries(project.resolve?.alias ?? {}).map(([find, replacement]) => ({
        find,
        replacement: replacement as string,
      })),
    ],
  },
}
