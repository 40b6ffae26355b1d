/**
 * Scores computed with the suite's own `determineTestResult` (dependencies honoured), over the
 * tests a shared cache runs (browser-only tests left out), as cache-tests.fyi counts them.
 */
import type { RawResult, SuiteModules, SuiteTest } from './suite.js'

/** Counts for one cache, for the whole suite or one section. */
export interface Score {
  /** Required tests (kind `required` or none) passed. */
  requiredPass: number
  requiredTotal: number
  /** Required tests failed (⛔️): conformance failures. */
  fail: number
  /** Optimal tests passed. */
  optimalPass: number
  optimalTotal: number
  /** Harness failures (⁉️: a request that hung or errored) and setup failures (🔹). */
  harnessFail: number
  setupFail: number
}

export interface Outcome {
  readonly id: string
  readonly section: string
  readonly name: string
  readonly kind: 'required' | 'optimal' | 'check'
  /** The verdict's text symbol (✅ ⛔️ ⚠️ Y N 🔹 ⁉️ ⚪️ -). */
  readonly symbol: string
  /** The failure message the suite recorded, if any. */
  readonly detail: string
}

export interface Summary {
  readonly total: Score
  readonly sections: ReadonlyMap<string, Score & { readonly name: string }>
  readonly outcomes: readonly Outcome[]
}

function empty(): Score {
  return {
    requiredPass: 0,
    requiredTotal: 0,
    fail: 0,
    optimalPass: 0,
    optimalTotal: 0,
    harnessFail: 0,
    setupFail: 0,
  }
}

/** The tests a reverse proxy runs: every test but the browser-only ones. */
export function sharedCacheTests(suite: SuiteModules): { section: string; test: SuiteTest }[] {
  const out: { section: string; test: SuiteTest }[] = []
  for (const s of suite.sections)
    for (const t of s.tests) if (t.browser_only !== true) out.push({ section: s.id, test: t })
  return out
}

/** Scores one result set. */
export function summarize(suite: SuiteModules, results: Record<string, RawResult>): Summary {
  const types = suite.resultTypes as Record<string, readonly [string, string, string]>
  const total = empty()
  const sections = new Map<string, Score & { name: string }>()
  for (const s of suite.sections) sections.set(s.id, { ...empty(), name: s.name })
  const outcomes: Outcome[] = []
  for (const { section, test } of sharedCacheTests(suite)) {
    const verdict = suite.determineTestResult(suite.sections, test.id, results)
    const kind = test.kind ?? 'required'
    const sec = sections.get(section) as Score
    for (const score of [total, sec]) {
      if (kind === 'required') {
        score.requiredTotal++
        if (verdict === types.pass) score.requiredPass++
        if (verdict === types.fail) score.fail++
      } else if (kind === 'optimal') {
        score.optimalTotal++
        if (verdict === types.pass) score.optimalPass++
      }
      if (verdict === types.harness_fail) score.harnessFail++
      if (verdict === types.setup_fail) score.setupFail++
    }
    const raw = results[test.id]
    outcomes.push({
      id: test.id,
      section,
      name: test.name,
      kind,
      symbol: verdict[2],
      detail: raw === undefined || raw === true ? '' : raw[1],
    })
  }
  return { total, sections, outcomes }
}

/** `135/160 required, 2 ⛔️, 80/105 optimal` */
export function scoreLine(s: Score): string {
  const extra = s.harnessFail + s.setupFail > 0 ? `, ${s.harnessFail} ⁉️, ${s.setupFail} 🔹` : ''
  return `${s.requiredPass}/${s.requiredTotal} required, ${s.fail} ⛔️, ${s.optimalPass}/${s.optimalTotal} optimal${extra}`
}

/** True when a verdict counts as passed for its kind (✅ or Y). */
export function passed(o: Outcome): boolean {
  return o.symbol === '✅' || o.symbol === 'Y'
}
