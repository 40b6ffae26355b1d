import { runDistributedScenarios, runScenarios } from '@tiercache/test-kit/http'
import { expressHarness } from './harness.js'

runScenarios(expressHarness)
runDistributedScenarios(expressHarness)
