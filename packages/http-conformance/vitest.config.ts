import { tiercacheProject } from '../../vitest.shared.js'
import { candidateDirs, locateSuite } from './src/suite.js'

// The suite is not part of the repository: without it the project has no test file to run.
const suite = locateSuite()
if (suite === undefined) {
  console.warn(
    `http-conformance: skipped, the cache-tests suite was not found (looked in ${candidateDirs().join(', ')}; set CACHE_TESTS_DIR to a cache-tests checkout)`,
  )
}

export default tiercacheProject(import.meta.dirname, {
  testTimeout: 600_000,
  hookTimeout: 600_000,
  include: suite === undefined ? [] : ['test/**/*.test.ts'],
})
