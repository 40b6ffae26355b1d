import { runDistributedScenarios, runScenarios } from '../../http/test/scenarios.js'
import { expressHarness } from './harness.js'

runScenarios(expressHarness)
runDistributedScenarios(expressHarness)
