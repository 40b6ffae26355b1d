import { tiercacheProject } from '../../vitest.shared.js'

export default tiercacheProject(import.meta.dirname)
