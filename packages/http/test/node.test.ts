import { nodeHarness } from './node-harness.js'
import { runScenarios } from './scenarios.js'

// The scenarios on a bare node:http server prove the neutral package needs no framework.
runScenarios(nodeHarness, ['memory'])
