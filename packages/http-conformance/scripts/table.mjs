// Prints the README tables: per suite section, required and optimal tests passed by tiercache
// (defaults and RFC profile, from a CONFORMANCE_OUT report) next to the published results shipped
// with the suite, every verdict computed by the suite's own determineTestResult; then every test
// tiercache does not pass. Usage: node scripts/table.mjs <report.json> [suite dir]
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'))
const dir = process.argv[3] ?? process.env.CACHE_TESTS_DIR ?? '/work/shared/cache-tests'
const sections = (await import(pathToFileURL(join(dir, 'tests', 'index.mjs')).href)).default
const { determineTestResult } = await import(
  pathToFileURL(join(dir, 'test-engine', 'lib', 'results.mjs')).href
)

const published = [
  ['trafficserver', 'ATS'],
  ['apache', 'httpd'],
  ['squid', 'Squid'],
  ['varnish', 'Varnish'],
  ['caddy', 'Caddy'],
  ['nginx', 'nginx'],
  ['haproxy', 'HAProxy'],
  ['fastly', 'Fastly'],
]
const ours = {
  defaults: new Map(
    report['express/defaults'].outcomes.map(([id, symbol, detail]) => [id, [symbol, detail]]),
  ),
  rfc: new Map(report['express/rfc'].outcomes.map(([id, symbol, detail]) => [id, [symbol, detail]])),
}
const results = published.map(([file, name]) => [
  name,
  JSON.parse(readFileSync(join(dir, 'results', `${file}.json`), 'utf8')),
])

function count(section, verdictOf) {
  let rp = 0
  let rt = 0
  let op = 0
  let ot = 0
  let fail = 0
  for (const t of section.tests) {
    if (t.browser_only) continue
    const kind = t.kind ?? 'required'
    const v = verdictOf(t.id)
    if (kind === 'required') {
      rt++
      if (v === '✅') rp++
      if (v === '⛔️') fail++
    } else if (kind === 'optimal') {
      ot++
      if (v === '✅') op++
    }
  }
  return { rp, rt, op, ot, fail }
}

const names = ['tiercache', 'tiercache RFC', ...results.map(([n]) => n)]
const verdicts = [
  (id) => ours.defaults.get(id)?.[0],
  (id) => ours.rfc.get(id)?.[0],
  ...results.map(
    ([, r]) =>
      (id) =>
        determineTestResult(sections, id, r)[2],
  ),
]
console.log(`| section (required / optimal) | ${names.join(' | ')} |`)
console.log(`| --- | ${names.map(() => '---:').join(' | ')} |`)
const totals = names.map(() => ({ rp: 0, rt: 0, op: 0, ot: 0, fail: 0 }))
for (const s of sections) {
  const cells = verdicts.map((v, i) => {
    const c = count(s, v)
    for (const k of Object.keys(c)) totals[i][k] += c[k]
    return c
  })
  const { rt, ot } = cells[0]
  if (rt + ot === 0) continue
  console.log(`| ${s.name} (${rt} / ${ot}) | ${cells.map((c) => `${c.rp} / ${c.op}`).join(' | ')} |`)
}
console.log(
  `| **all (${totals[0].rt} / ${totals[0].ot})** | ${totals.map((c) => `**${c.rp} / ${c.op}**`).join(' | ')} |`,
)
console.log(`| conformance failures (⛔️) | ${totals.map((c) => c.fail).join(' | ')} |`)

console.log('\nNot passed (defaults; RFC profile in brackets when it differs):\n')
for (const s of sections) {
  for (const t of s.tests) {
    if (t.browser_only || (t.kind ?? 'required') === 'check') continue
    const [d, detail] = ours.defaults.get(t.id) ?? ['-', '']
    const [r] = ours.rfc.get(t.id) ?? ['-', '']
    if (d === '✅' && r === '✅') continue
    console.log(`- ${d}${r !== d ? ` [${r}]` : ''} \`${t.id}\` (${t.kind ?? 'required'}): ${detail}`)
  }
}
