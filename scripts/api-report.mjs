/**
 * The API report: every name each published package exports, per entry point (`.`, `./store`,
 * `./testing`, …), with its kind, read from the built declarations (`dist/*.d.ts`) the way a user's
 * TypeScript sees them. One Markdown file per package in `api/<folder>.api.md`.
 *
 *   pnpm build && pnpm api:update    rewrite the reports after a reviewed change
 *
 * `test/api-report.test.ts` compares the reports with the committed files and fails on any
 * difference, so an export cannot appear, disappear or change kind without a reviewed diff here.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = join(fileURLToPath(import.meta.url), '..', '..')

/** Kinds a symbol can have, in the order they are printed when one name has several. */
const KINDS = [
  [ts.SymbolFlags.Class, 'class'],
  [ts.SymbolFlags.Function, 'function'],
  [ts.SymbolFlags.Variable, 'const'],
  [ts.SymbolFlags.Enum, 'enum'],
  [ts.SymbolFlags.Interface, 'interface'],
  [ts.SymbolFlags.TypeAlias, 'type'],
  [ts.SymbolFlags.Module, 'namespace'],
]

/** The published packages: `{ dir, name, entries: [subpath, d.ts file] }`, sorted by folder. */
export function publishedPackages() {
  const out = []
  for (const dir of readdirSync(join(root, 'packages')).sort()) {
    const file = join(root, 'packages', dir, 'package.json')
    if (!existsSync(file)) continue
    const json = JSON.parse(readFileSync(file, 'utf8'))
    if (json.private) continue
    const entries = []
    for (const [subpath, target] of Object.entries(json.exports ?? {})) {
      const types = typeof target === 'object' && target !== null ? target.types : undefined
      if (typeof types !== 'string') continue
      entries.push([subpath, join(root, 'packages', dir, types)])
    }
    out.push({ dir, name: json.name, entries })
  }
  return out
}

function kindOf(checker, symbol) {
  const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  const kinds = KINDS.filter(([flag]) => target.flags & flag).map(([, name]) => name)
  return kinds.length > 0 ? kinds.join(' + ') : 'unknown'
}

/**
 * The report of every published package.
 *
 * @returns a map from the report's path relative to the repository (`api/core.api.md`) to its text
 * @throws Error when a package is not built
 */
export function apiReports() {
  const packages = publishedPackages()
  const files = packages.flatMap((p) => p.entries.map(([, file]) => file))
  const missing = files.filter((f) => !existsSync(f))
  if (missing.length > 0) {
    throw new Error(`not built (run pnpm build first): ${missing.map((f) => relative(root, f)).join(', ')}`)
  }
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: ['node'],
    skipLibCheck: true,
    noEmit: true,
  })
  const checker = program.getTypeChecker()
  const reports = new Map()
  for (const pkg of packages) {
    const lines = [
      `# ${pkg.name}`,
      '',
      'The names this package exports, per entry point, with their kinds. Generated from the built',
      'declarations by `pnpm api:update`; `test/api-report.test.ts` fails when it is out of date.',
      'Review every change here: a new name is a new commitment, a removed or changed one breaks users.',
    ]
    for (const [subpath, file] of pkg.entries) {
      const source = program.getSourceFile(file)
      const moduleSymbol = source && checker.getSymbolAtLocation(source)
      const exports = moduleSymbol ? checker.getExportsOfModule(moduleSymbol) : []
      const specifier = subpath === '.' ? pkg.name : `${pkg.name}${subpath.slice(1)}`
      lines.push('', `## \`${specifier}\``, '')
      const rows = exports
        .map((s) => [s.getName(), kindOf(checker, s)])
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      if (rows.length === 0) lines.push('(nothing)')
      for (const [name, kind] of rows) lines.push(`- \`${name}\`: ${kind}`)
    }
    reports.set(`api/${pkg.dir}.api.md`, `${lines.join('\n')}\n`)
  }
  return reports
}

/** Writes every report and deletes reports of packages that no longer exist. */
function update() {
  const reports = apiReports()
  const dir = join(root, 'api')
  mkdirSync(dir, { recursive: true })
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.api.md') && !reports.has(`api/${name}`)) rmSync(join(dir, name))
  }
  for (const [path, text] of reports) writeFileSync(join(root, path), text)
  console.log(`wrote ${reports.size} API reports to api/`)
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--update')) update()
