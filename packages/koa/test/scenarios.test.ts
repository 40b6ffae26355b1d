import { runDistributedScenarios, runScenarios } from '@tiercache/test-kit/http'
import { koaHarness } from './harness.js'

runScenarios(koaHarness)
runDistributedScenarios(koaHarness)
