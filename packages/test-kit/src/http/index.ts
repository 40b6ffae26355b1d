/**
 * The HTTP adapter kit: the harness an adapter implements ({@link Harness}) and the scenario
 * suite it runs (`runScenarios`, `runDistributedScenarios`), with the request helpers the
 * adapters' own tests use.
 *
 * @module
 */
export {
  get,
  type Handler,
  type Harness,
  type Listening,
  makeCache,
  originOf,
  REDIS_URL,
  type Route,
  Routes,
  rawRequest,
  SkewClock,
  type SpecReply,
  type SpecRequest,
  serve,
  type TestServer,
  type TierKind,
} from './harness.js'
export { runDistributedScenarios, runScenarios } from './scenarios/index.js'
