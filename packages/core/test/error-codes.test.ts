/**
 * One closed list of error codes (issue 17, item 13): `ERROR_CODES` / `ErrorCode` in the types,
 * the same table in the README, every code thrown in the sources and every code named in the
 * docs taken from it, and `isTierCacheError(e, code)` narrowing by code.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import ts from 'typescript'
import { describe, expect, test } from 'vitest'
import { ERROR_CODES } from '../src/index.js'

const core = join(import.meta.dirname, '..')
const repo = join(core, '..', '..')

function files(dir: string, ext: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue
    const path = join(dir, name)
    if (statSync(path).isDirectory()) files(path, ext, out)
    else if (name.endsWith(ext)) out.push(path)
  }
  return out
}

describe('error codes', () => {
  test("core README's error table lists exactly ERROR_CODES, in order", () => {
    const readme = readFileSync(join(core, 'README.md'), 'utf8')
    const section = readme.slice(
      readme.indexOf('## Errors'),
      readme.indexOf('\n## ', readme.indexOf('## Errors') + 3),
    )
    const rows = section.split('\n').filter((l) => /^\| `E_/.test(l))
    const codes = rows.map((l) => /^\| `(E_[A-Z_]+)`/.exec(l)?.[1])
    expect(codes).toEqual([...ERROR_CODES])
  })

  test('every code a package source throws is in ERROR_CODES', () => {
    const known = new Set<string>(ERROR_CODES)
    const sources = [
      ...files(join(repo, 'packages'), '.ts').filter((f) => f.includes(`${join('/', 'src', '/')}`)),
      ...files(join(repo, 'apps'), '.ts').filter((f) => f.includes(`${join('/', 'src', '/')}`)),
    ]
    expect(sources.length).toBeGreaterThan(50)
    const unknown: string[] = []
    for (const file of sources) {
      const text = readFileSync(file, 'utf8')
      for (const m of text.matchAll(/'(E_[A-Z_]*[A-Z])'/g)) {
        if (!known.has(m[1] as string)) unknown.push(`${file.slice(repo.length + 1)}: ${m[1]}`)
      }
    }
    expect(unknown).toEqual([])
  })

  test('every code the READMEs and docs name is in ERROR_CODES', () => {
    const known = new Set<string>(ERROR_CODES)
    const docs = [
      join(repo, 'README.md'),
      ...files(join(repo, 'docs'), '.md'),
      ...files(join(repo, 'packages'), '.md'),
      ...files(join(repo, 'apps'), '.md'),
    ].filter((f) => !f.includes('CHANGELOG'))
    const unknown: string[] = []
    for (const file of docs) {
      const text = readFileSync(file, 'utf8')
      // `E_INVALID_*` names a family, not a code.
      for (const m of text.matchAll(/\b(E_[A-Z_]*[A-Z])\b(?!_?\*)/g)) {
        if (!known.has(m[1] as string)) unknown.push(`${file.slice(repo.length + 1)}: ${m[1]}`)
      }
    }
    expect(unknown).toEqual([])
  })

  test('isTierCacheError(e, code) narrows to the class of the code; ErrorCode is closed', () => {
    const file = join(core, 'test', 'types', 'error-narrowing.ts')
    const config = ts.readConfigFile(join(repo, 'tsconfig.base.json'), ts.sys.readFile).config
    const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, repo)
    const program = ts.createProgram([file], {
      ...options,
      noEmit: true,
      composite: false,
      incremental: false,
      declaration: false,
      declarationMap: false,
      isolatedDeclarations: false,
    })
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => {
      const where = d.file
        ? `${d.file.fileName.slice(repo.length + 1)}:${d.file.getLineAndCharacterOfPosition(d.start ?? 0).line + 1}`
        : ''
      return `${where} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`
    })
    expect(diagnostics).toEqual([])
  }, 120_000)
})
