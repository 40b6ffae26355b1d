/**
 * Finding, preparing and running the cache-tests suite: a copy of the read-only suite folder with
 * its npm dependencies installed (kept per suite commit under the system's temporary folder),
 * its origin server in a child process, and its CLI in a child process per cache under test.
 */
import { execFile, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'

const exec = promisify(execFile)

const repoRoot = resolve(import.meta.dirname, '..', '..', '..')

/** Where the suite is looked for, in order. */
export function candidateDirs(): string[] {
  const fromEnv = process.env.CACHE_TESTS_DIR
  if (fromEnv !== undefined && fromEnv !== '') return [resolve(fromEnv)]
  return [resolve(repoRoot, '..', 'shared', 'cache-tests'), '/work/shared/cache-tests']
}

/** The suite folder: `CACHE_TESTS_DIR`, else `../shared/cache-tests` beside the repository, else `/work/shared/cache-tests`. */
export function locateSuite(): string | undefined {
  for (const dir of candidateDirs()) {
    if (existsSync(join(dir, 'tests', 'index.mjs')) && existsSync(join(dir, 'test-engine', 'cli.mjs')))
      return dir
  }
  return undefined
}

/**
 * A copy of the suite with its npm dependencies installed, made once per suite version (commit
 * and package.json) under the temporary folder. Concurrent runs each install into their own
 * folder and the first rename wins.
 */
export async function preparedCopy(suite: string): Promise<string> {
  const hash = createHash('sha256')
  for (const f of ['SUITE_COMMIT', 'package.json']) {
    const p = join(suite, f)
    if (existsSync(p)) hash.update(readFileSync(p))
  }
  const base = join(tmpdir(), 'tiercache-cache-tests')
  mkdirSync(base, { recursive: true })
  const target = join(base, hash.digest('hex').slice(0, 16))
  if (existsSync(join(target, '.installed'))) return target
  const work = mkdtempSync(join(base, 'staging-'))
  try {
    cpSync(suite, work, { recursive: true, filter: (src) => !src.includes(`${suite}/node_modules`) })
    await exec('chmod', ['-R', 'u+w', work])
    await exec(
      'npm',
      ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'],
      {
        cwd: work,
        maxBuffer: 16 * 2 ** 20,
        env: { ...process.env, npm_config_engine_strict: 'false' },
      },
    )
    await exec('touch', [join(work, '.installed')])
    try {
      renameSync(work, target)
    } catch {
      // another run installed it first
      rmSync(work, { recursive: true, force: true })
    }
  } catch (error) {
    rmSync(work, { recursive: true, force: true })
    throw new Error(
      `could not install the cache-tests dependencies with npm in a copy of ${suite}: ${String(error)}`,
    )
  }
  return target
}

/** The suite's origin server, in a child process on a free port. */
export interface Origin {
  readonly url: string
  close(): Promise<void>
}

export async function startOrigin(copy: string): Promise<Origin> {
  const child = spawn(process.execPath, ['test-engine/server/server.mjs'], {
    cwd: copy,
    env: {
      ...process.env,
      npm_config_protocol: 'http',
      npm_config_port: '0',
      npm_config_pidfile: join(mkdtempSync(join(tmpdir(), 'tiercache-origin-')), 'pid'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const port = await new Promise<number>((ok, fail) => {
    let out = ''
    const onData = (chunk: Buffer): void => {
      out += chunk.toString()
      const m = /Listening on http:\/\/\S+:(\d+)\//.exec(out)
      if (m) {
        child.stdout.off('data', onData)
        // the origin logs a line per unexpected request; keep the pipe drained
        child.stdout.resume()
        ok(Number(m[1]))
      }
    }
    child.stdout.on('data', onData)
    child.stderr.resume()
    child.once('exit', (code) => fail(new Error(`the cache-tests origin exited (${code}): ${out}`)))
  })
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      if (child.exitCode !== null) return
      const gone = new Promise((r) => child.once('exit', r))
      child.kill('SIGTERM')
      await gone
    },
  }
}

/** One test's raw result as the suite's CLI reports it: `true`, or `[errorName, message]`. */
export type RawResult = true | [string, string]

/** Runs the suite's CLI against a cache at `base` and returns its JSON results. */
export async function runCli(copy: string, base: string, id = ''): Promise<Record<string, RawResult>> {
  const { stdout } = await exec(process.execPath, ['--no-warnings', 'test-engine/cli.mjs'], {
    cwd: copy,
    env: { ...process.env, npm_config_base: base, npm_config_id: id, npm_package_config_id: id },
    maxBuffer: 64 * 2 ** 20,
    timeout: 10 * 60_000,
  })
  if (id !== '') return { [id]: true }
  return JSON.parse(stdout) as Record<string, RawResult>
}

/** A test as the suite declares it (the fields used here). */
export interface SuiteTest {
  readonly id: string
  readonly name: string
  readonly kind?: 'required' | 'optimal' | 'check'
  readonly browser_only?: boolean
  readonly depends_on?: readonly string[]
}

export interface SuiteSection {
  readonly id: string
  readonly name: string
  readonly tests: readonly SuiteTest[]
}

/** The suite's verdict symbols (`resultTypes` in test-engine/lib/results.mjs). */
export type Verdict = readonly [string, string, string]

export interface SuiteModules {
  readonly sections: readonly SuiteSection[]
  readonly determineTestResult: (
    sections: readonly SuiteSection[],
    id: string,
    results: Record<string, RawResult>,
    honorDependencies?: boolean,
  ) => Verdict
  readonly resultTypes: Record<string, Verdict>
}

/** The suite's test list and its own verdict function. */
export async function loadSuite(copy: string): Promise<SuiteModules> {
  const index = (await import(pathToFileURL(join(copy, 'tests', 'index.mjs')).href)) as {
    default: SuiteSection[]
  }
  const results = (await import(pathToFileURL(join(copy, 'test-engine', 'lib', 'results.mjs')).href)) as {
    determineTestResult: SuiteModules['determineTestResult']
    resultTypes: SuiteModules['resultTypes']
  }
  return {
    sections: index.default,
    determineTestResult: results.determineTestResult,
    resultTypes: results.resultTypes,
  }
}

/** Published results of other caches shipped with the suite (`results/<file>.json`). */
export function publishedResults(copy: string, file: string): Record<string, RawResult> {
  return JSON.parse(readFileSync(join(copy, 'results', `${file}.json`), 'utf8')) as Record<string, RawResult>
}
