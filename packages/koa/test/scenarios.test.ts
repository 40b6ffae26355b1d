import { runDistributedScenarios, runScenarios } from '../../http/test/scenarios.js'
import { koaHarness } from './harness.js'

runScenarios(koaHarness)
runDistributedScenarios(koaHarness)
