/**
 * What the scenario groups share: the running server and cache of one `describe`, and a
 * text reply builder.
 *
 * @module
 */
import type { Cache } from '@tiercache/core'
import type { SkewClock, SpecReply, TestServer } from '../harness.js'

/** The server and cache of the enclosing `describe`, set by its `beforeAll`. */
export interface ScenarioContext {
  readonly clock: SkewClock
  readonly cache: Cache
  readonly srv: TestServer
}

/** A text/plain reply. */
export const text = (
  body: string,
  headers: Record<string, string | string[]> = {},
  status = 200,
): SpecReply & { status: number; headers: Record<string, string | string[]>; body: string } => ({
  status,
  headers: { 'content-type': 'text/plain; charset=utf-8', ...headers },
  body,
})
