import { tiercacheProject } from '../../vitest.shared.js'

export default tiercacheProject(import.meta.dirname, { testTimeout: 600_000 })
