import { runScenarios } from '@tiercache/test-kit/http'
import { nodeHarness } from './node-harness.js'

// The scenarios on a bare node:http server prove the neutral package needs no framework.
runScenarios(nodeHarness, ['memory'])
