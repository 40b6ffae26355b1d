import { tiercacheProject } from '../../vitest.shared.js'

// Property runs are long single tests: a minute or so in the normal run, more with TIERCACHE_FUZZ=long.
export default tiercacheProject(import.meta.dirname, { testTimeout: 600_000, hookTimeout: 120_000 })
