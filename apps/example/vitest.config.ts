import { tiercacheProject } from '../../vitest.shared.js'

/**
 * The tests start the built service (`node dist/main.js`) as child processes: vitest's transform
 * cannot compile the standard decorators the service uses. `pnpm test` builds first; alone, run
 * `pnpm build` before `pnpm exec vitest run --project example`.
 */
export default tiercacheProject(import.meta.dirname, { testTimeout: 60_000, hookTimeout: 90_000 })
