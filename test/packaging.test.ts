/**
 * Proves every publishable package has a correct published shape and works installed alone:
 * publint, attw (esm-only profile), and a pack-and-install smoke test that imports the package
 * from ESM and require()s it from CommonJS in a fresh folder holding only its declared peers.
 */
import { execFile } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { afterAll, beforeAll, describe, expect, test } from 'vitest'

const exec = promisify(execFile)
const root = join(import.meta.dirname, '..')

/**
 * better-sqlite3 as this workspace built it: installing the same version into a smoke folder with
 * scripts off and copying its compiled addon in saves a native build (minutes) per package. Falls
 * back to a normal install when the workspace has no build of it.
 */
const sqliteDir = join(root, 'packages', 'fallback-kysely', 'node_modules', 'better-sqlite3')
const sqliteAddon = join(sqliteDir, 'build', 'Release', 'better_sqlite3.node')
const sqliteVersion: string | undefined = existsSync(sqliteAddon)
  ? (JSON.parse(readFileSync(join(sqliteDir, 'package.json'), 'utf8')).version as string)
  : undefined

interface Pkg {
  dir: string
  name: string
  json: {
    name: string
    private?: boolean
    peerDependencies?: Record<string, string>
    peerDependenciesMeta?: Record<string, { optional?: boolean }>
    dependencies?: Record<string, string>
  }
}

const packages: Pkg[] = readdirSync(join(root, 'packages'))
  .map((d) => ({ dir: join(root, 'packages', d), d }))
  .filter(({ dir }) => existsSync(join(dir, 'package.json')))
  .map(({ dir }) => {
    const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
    return { dir, name: json.name as string, json }
  })
  .filter((p) => !p.json.private)
const byName = new Map(packages.map((p) => [p.name, p]))

const work = mkdtempSync(join(tmpdir(), 'tiercache-pack-'))
const tarballs = new Map<string, string>()

beforeAll(async () => {
  const packs = join(work, 'packs')
  mkdirSync(packs)
  for (const p of packages) {
    const { stdout } = await exec('pnpm', ['pack', '--pack-destination', packs, '--json'], { cwd: p.dir })
    const info = JSON.parse(stdout)
    tarballs.set(p.name, info.filename)
  }
})

afterAll(() => rmSync(work, { recursive: true, force: true }))

/** The tarballs of a package and of every @tiercache package it needs (deps and peers), transitively. */
function localClosure(name: string, seen = new Set<string>()): Set<string> {
  if (seen.has(name)) return seen
  seen.add(name)
  const p = byName.get(name)!
  for (const dep of [
    ...Object.keys(p.json.dependencies ?? {}),
    ...Object.keys(p.json.peerDependencies ?? {}),
  ]) {
    if (byName.has(dep)) localClosure(dep, seen)
  }
  return seen
}

/** Registry peers (non-optional) of the package and its local closure, with their ranges. */
function registryPeers(names: Set<string>): string[] {
  const out = new Map<string, string>()
  for (const n of names) {
    const p = byName.get(n)!
    for (const [peer, range] of Object.entries(p.json.peerDependencies ?? {})) {
      if (byName.has(peer) || p.json.peerDependenciesMeta?.[peer]?.optional) continue
      out.set(peer, range)
    }
  }
  return [...out].map(([n, r]) => `${n}@${r}`)
}

describe.each(packages.map((p) => [p.name, p] as const))('%s', (_name, pkg) => {
  test('publint reports nothing', async () => {
    const { messages, pkg: manifest } = await publint({
      pkgDir: pkg.dir,
      level: 'suggestion',
      strict: true,
      pack: 'pnpm',
    })
    const text = messages.map((m) => `${m.type}: ${formatMessage(m, manifest)}`)
    expect(text).toEqual([])
  })

  test('attw --profile esm-only passes', async () => {
    const tarball = tarballs.get(pkg.name)!
    const result = await exec(
      'pnpm',
      ['exec', 'attw', tarball, '--profile', 'esm-only', '--format', 'ascii'],
      {
        cwd: root,
      },
    ).then(
      (r) => ({ code: 0, out: r.stdout }),
      (e: { code: number; stdout: string; stderr: string }) => ({
        code: e.code,
        out: `${e.stdout}\n${e.stderr}`,
      }),
    )
    expect(result.code, result.out).toBe(0)
  })

  test('installs alone from its tarball, imports from ESM, require()s from CommonJS, and runs its smoke test', async () => {
    const dir = join(work, `install-${pkg.name.replace(/[@/]/g, '_')}`)
    mkdirSync(dir)
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'smoke', private: true, version: '0.0.0' }),
    )
    const closure = localClosure(pkg.name)
    const smokeConfig = join(pkg.dir, 'test', 'smoke.json')
    const extra: string[] = existsSync(smokeConfig)
      ? (JSON.parse(readFileSync(smokeConfig, 'utf8')).install ?? [])
      : []
    let specs = [...[...closure].map((n) => tarballs.get(n)!), ...registryPeers(closure), ...extra]
    const reuseSqlite =
      sqliteVersion !== undefined &&
      specs.some((s) => s === 'better-sqlite3' || s.startsWith('better-sqlite3@'))
    if (reuseSqlite) {
      specs = specs.map((s) => (s.startsWith('better-sqlite3') ? `better-sqlite3@${sqliteVersion}` : s))
    }
    await exec(
      'npm',
      [
        'install',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
        ...(reuseSqlite ? ['--ignore-scripts'] : []),
        ...specs,
      ],
      {
        cwd: dir,
        env: { ...process.env, npm_config_nodedir: existsSync('/usr/include/node') ? '/usr' : '' },
        maxBuffer: 10 * 2 ** 20,
      },
    )
    if (reuseSqlite) {
      const release = join(dir, 'node_modules', 'better-sqlite3', 'build', 'Release')
      mkdirSync(release, { recursive: true })
      copyFileSync(sqliteAddon, join(release, 'better_sqlite3.node'))
    }
    const installed = readdirSync(join(dir, 'node_modules', '@tiercache')).map((n) => `@tiercache/${n}`)
    expect(installed.sort()).toEqual([...closure].filter((n) => n.startsWith('@tiercache/')).sort())

    const esm = await exec(
      'node',
      [
        '--input-type=module',
        '-e',
        `const m = await import('${pkg.name}'); console.log(JSON.stringify(Object.keys(m).sort()))`,
      ],
      { cwd: dir },
    )
    const esmKeys = JSON.parse(esm.stdout) as string[]
    expect(esmKeys.length).toBeGreaterThan(0)
    const cjs = await exec(
      'node',
      [
        '-e',
        `const m = require('${pkg.name}'); console.log(JSON.stringify(Object.keys(m).filter((k) => k !== '__esModule' && k !== 'module.exports').sort()))`,
      ],
      { cwd: dir },
    )
    expect(JSON.parse(cjs.stdout)).toEqual(esmKeys)

    const smoke = join(pkg.dir, 'test', 'smoke.mjs')
    expect(existsSync(smoke), `${pkg.name} has test/smoke.mjs`).toBe(true)
    copyFileSync(smoke, join(dir, 'smoke.mjs'))
    const out = await exec('node', ['smoke.mjs'], { cwd: dir, timeout: 120_000 })
    expect(out.stdout).toContain('smoke ok')
  })
})
