/**
 * The public surface is deliberate: each published package's exports (names and kinds, per entry
 * point, from the built declarations) must equal its committed report in `api/`. After a reviewed
 * change: `pnpm build && pnpm api:update`, and commit the reports with the change.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, test } from 'vitest'
// @ts-expect-error: a plain ESM script without declarations
import { apiReports } from '../scripts/api-report.mjs'

const root = join(import.meta.dirname, '..')
const reports = apiReports() as Map<string, string>
const hint =
  'the exports changed: review the change, then run `pnpm build && pnpm api:update` and commit api/'

describe.each([...reports.keys()].map((path) => [path] as const))('API report %s', (path) => {
  test('matches the built exports', () => {
    const file = join(root, path)
    expect(existsSync(file), `${path} is missing: ${hint}`).toBe(true)
    expect(reports.get(path), hint).toBe(readFileSync(file, 'utf8'))
  })
})

test('api/ holds a report for every published package and nothing else', () => {
  const committed = readdirSync(join(root, 'api'))
    .filter((f) => f.endsWith('.api.md'))
    .map((f) => `api/${f}`)
    .sort()
  expect(committed, hint).toEqual([...reports.keys()].sort())
})
