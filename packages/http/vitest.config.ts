import { tiercacheProject } from '../../vitest.shared.js'

export default tiercacheProject(import.meta.dirname, { setupFiles: ['test/setup.ts'] })
