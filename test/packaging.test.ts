/**
 * Proves every publishable package has a correct published shape and works installed alone:
 * publint, attw (esm-only profile), and a pack-and-install smoke test that imports the package
 * from ESM and require()s it from CommonJS in a fresh folder holding only its declared peers.
 * Then, as a new user would: each README's install line, run as written in a fresh folder, and
 * that README's first example, run there.
 */
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
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
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import { readmeBlocks } from '@tiercache/test-kit/readme'
import { type RedisServer, startRedis } from '@tiercache/test-servers'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import ts from 'typescript'
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

  test.concurrent('attw --profile esm-only passes', async () => {
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

  test.concurrent('installs alone from its tarball, imports from ESM, require()s from CommonJS, and runs its smoke test', async () => {
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

// ---------------------------------------------------------------------------------------------
// README install lines, as a new user runs them

interface Readme {
  label: string
  file: string
}
const readmes: Readme[] = [
  { label: 'README.md', file: join(root, 'README.md') },
  ...packages
    .filter((p) => existsSync(join(p.dir, 'README.md')))
    .map((p) => ({ label: `${p.name} README`, file: join(p.dir, 'README.md') })),
]

/** The fenced blocks of one language, in order (the kit's README parser). */
function fenced(markdown: string, lang: string): string[] {
  return readmeBlocks(markdown)
    .filter((b) => b.lang === lang)
    .map((b) => b.code)
}

/** The first `npm install` / `pnpm add` line of the README's shell blocks, without its comment. */
function installLine(markdown: string): string | undefined {
  for (const block of fenced(markdown, 'sh')) {
    for (const line of block.split('\n')) {
      if (/^(npm (install|i)|pnpm add) /.test(line)) return line.replace(/\s+#.*$/, '').trim()
    }
  }
  return undefined
}

/**
 * The README's line as it runs here: each workspace package it names is its packed tarball (the
 * package as the registry would serve it once published); everything else is as written, from
 * the registry. Workspace packages it does not name, but that the named ones need, come from
 * their tarballs too, through the package manager's overrides.
 */
function localInstall(line: string): { command: string; args: string[]; overrides: Record<string, string> } {
  const [command, ...words] = line.split(/\s+/) as [string, ...string[]]
  const named = new Set<string>()
  const args = words.map((word) => {
    if (word.startsWith('-')) return word
    const name = word.replace(/(?<=.)@.*$/, '') // '@scope/name@range' -> '@scope/name'
    if (!byName.has(name)) return word
    named.add(name)
    return tarballs.get(name)!
  })
  const needed = new Set<string>()
  for (const name of named) localClosure(name, needed)
  const overrides: Record<string, string> = {}
  for (const name of needed) if (!named.has(name)) overrides[name] = `file:${tarballs.get(name)!}`
  return { command, args, overrides }
}

/**
 * What a README's first example needs beyond a script run with `node`: the conformance suite's is
 * a test file of the user's own store (here the example store of docs/writing-a-store.md), run
 * with the command the README gives after it.
 */
const testFileExamples: Record<string, { file: string; store: string; run: string }> = {
  '@tiercache/store-test-suite README': {
    file: 'test/conformance.test.ts',
    store: join(root, 'packages', 'example-fs-store', 'src'),
    run: 'npx vitest run',
  },
}

/** Output that means a README's line or example went wrong even when the command exits 0. */
const INSTALL_TROUBLE =
  /ERESOLVE|conflicting peer|unmet peer|incorrect peer|Issues with peer dependencies|Ignored build scripts/i
const EXAMPLE_TROUBLE = /Assertion failed/

describe('README install lines', () => {
  let redis: RedisServer
  let prebuilds: Server | undefined
  let prebuildHost: string | undefined

  beforeAll(async () => {
    // The examples' Redis: a private server, so nothing they write meets other tests' keys.
    redis = await startRedis()
    // better-sqlite3's install script fetches a prebuilt addon before compiling one: serve it the
    // addon this workspace compiled, for the version the workspace has (any other compiles).
    if (sqliteVersion !== undefined) {
      const abi = process.versions.modules
      const name = `better-sqlite3-v${sqliteVersion}-node-v${abi}-${process.platform}-${process.arch}.tar.gz`
      const tarball = join(work, 'prebuilds', name)
      mkdirSync(dirname(tarball), { recursive: true })
      await exec('tar', ['czf', tarball, '-C', sqliteDir, 'build/Release/better_sqlite3.node'])
      prebuilds = createServer((req, res) => {
        if (req.url === `/v${sqliteVersion}/${name}`) {
          res.setHeader('content-type', 'application/gzip')
          res.end(readFileSync(tarball))
        } else {
          res.statusCode = 404
          res.end()
        }
      }).listen(0, '127.0.0.1')
      await once(prebuilds, 'listening')
      prebuildHost = `http://127.0.0.1:${(prebuilds.address() as AddressInfo).port}`
    }
  })

  afterAll(async () => {
    await redis?.stop()
    prebuilds?.close()
  })

  test('every published package has a README with an install line and an example', () => {
    expect(readmes.length).toBe(packages.length + 1)
    for (const { label, file } of readmes) {
      const markdown = readFileSync(file, 'utf8')
      expect(installLine(markdown), label).toBeDefined()
      expect(fenced(markdown, 'ts').length, label).toBeGreaterThan(0)
    }
  })

  test.concurrent.each(readmes.map((r) => [r.label, r] as const))(
    '%s: its install line, run in a fresh folder, installs what its first example needs, and the example runs',
    async (label, { file }) => {
      const markdown = readFileSync(file, 'utf8')
      const line = installLine(markdown)!
      const example = fenced(markdown, 'ts')[0]!
      const dir = mkdtempSync(join(work, 'readme-'))
      const { command, args, overrides } = localInstall(line)
      const manifest: Record<string, unknown> = { name: 'readme-check', private: true, version: '0.0.0' }
      if (command === 'npm') manifest.overrides = overrides
      else if (Object.keys(overrides).length > 0) {
        writeFileSync(
          join(dir, 'pnpm-workspace.yaml'),
          `overrides:\n${Object.entries(overrides)
            .map(([k, v]) => `  ${JSON.stringify(k)}: ${JSON.stringify(v)}`)
            .join('\n')}\n`,
        )
      }
      writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2))
      const install = await exec(command, args, {
        cwd: dir,
        env: {
          ...process.env,
          npm_config_nodedir: existsSync('/usr/include/node') ? '/usr' : '',
          npm_config_audit: 'false',
          npm_config_fund: 'false',
          ...(prebuildHost !== undefined ? { npm_config_better_sqlite3_binary_host: prebuildHost } : {}),
        },
        maxBuffer: 10 * 2 ** 20,
        timeout: 300_000,
      }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(`${label}: \`${line}\` failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
      })
      expect(`${install.stdout}${install.stderr}`, `${label}: \`${line}\``).not.toMatch(INSTALL_TROUBLE)

      const asTest = testFileExamples[label]
      let run: [string, string[]]
      if (asTest !== undefined) {
        expect(markdown, label).toContain(asTest.run)
        mkdirSync(join(dir, dirname(asTest.file)), { recursive: true })
        writeFileSync(join(dir, asTest.file), example)
        mkdirSync(join(dir, 'src'))
        for (const f of readdirSync(asTest.store)) copyFileSync(join(asTest.store, f), join(dir, 'src', f))
        const [cmd, ...rest] = asTest.run.split(' ') as [string, ...string[]]
        run = [cmd, rest]
      } else {
        // The example is TypeScript: strip its types (nothing else changes) and run it with node.
        const js = ts.transpileModule(example, {
          compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
        }).outputText
        writeFileSync(join(dir, 'example.mjs'), js)
        run = ['node', ['example.mjs']]
      }
      const id = randomUUID().slice(0, 8)
      const result = await exec(run[0], run[1], {
        cwd: dir,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          REDIS_URL: redis.url,
          CACHE_PREFIX: `readme-${id}:`,
          CACHE_NAMESPACE: `readme-${id}`,
          NO_COLOR: '1',
        },
        maxBuffer: 10 * 2 ** 20,
        timeout: 180_000,
      }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
        throw new Error(
          `${label}: its first example failed in a folder set up by \`${line}\`:\n${e.stdout ?? ''}${e.stderr ?? e.message}`,
        )
      })
      expect(result.stderr, `${label}: first example`).not.toMatch(EXAMPLE_TROUBLE)
      rmSync(dir, { recursive: true, force: true })
    },
  )
})
