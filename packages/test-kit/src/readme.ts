/**
 * The one checker of the docs convention: every TypeScript or JavaScript block of a README (or of
 * a guide under docs/) is marked with the path of an example file (`<!-- test/examples/x.ts -->`
 * on the line before it) and is that file's literal source. Example files sit under a package's
 * `test/`, so its `typecheck` type-checks them and its tests run them; the checker proves the
 * README shows exactly that code. A package README's install line also names the package and
 * every peer.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, vi } from 'vitest'

/** One fenced block of a markdown file. */
export interface Block {
  /** The text of the `<!-- ... -->` comment on the line before the fence, if any. */
  readonly marker: string | undefined
  /** The fence's info string (`ts`, `sh`, …), empty when there is none. */
  readonly lang: string
  /** The block's text, ending with a newline. */
  readonly code: string
  /** The 1-based line of the opening fence. */
  readonly line: number
}

/** Languages whose blocks must be example files. */
export const CODE_LANGS: readonly string[] = ['ts', 'tsx', 'js', 'mjs', 'typescript', 'javascript']

/**
 * The fenced blocks of a markdown text, in order. A fence closes only with as many backticks as
 * opened it, so a source holding ``` itself is shown in a ```` fence.
 */
export function readmeBlocks(markdown: string): Block[] {
  return [...markdown.matchAll(/(?:^<!-- (.+?) -->\n)?^(`{3,})([\w-]*)\n([\s\S]*?)^\2$/gm)].map((m) => ({
    marker: m[1],
    lang: m[3] ?? '',
    code: m[4] ?? '',
    line: markdown.slice(0, m.index).split('\n').length + (m[1] === undefined ? 0 : 1),
  }))
}

/** Options of {@link checkDoc}. */
export interface CheckDocOptions {
  /** The folder the markers' paths are relative to; default the markdown file's folder. */
  readonly root?: string
  /** Blocks the caller checks another way; they are left out. */
  readonly exempt?: (block: Block) => boolean
}

/**
 * Checks one markdown file against the docs convention and returns its code blocks with their
 * files (absolute paths), for the caller to run.
 */
export function checkDoc(file: string, options: CheckDocOptions = {}): { block: Block; file: string }[] {
  const root = options.root ?? join(file, '..')
  const found: { block: Block; file: string }[] = []
  for (const block of readmeBlocks(readFileSync(file, 'utf8'))) {
    if (!CODE_LANGS.includes(block.lang) || options.exempt?.(block) === true) continue
    const where = `${file}:${block.line}`
    expect(block.marker, `${where}: a code block without a <!-- path --> marker`).toBeDefined()
    const path = join(root, block.marker as string)
    expect(block.code, `${where}: not the source of ${block.marker}`).toBe(readFileSync(path, 'utf8'))
    found.push({ block, file: path })
  }
  return found
}

/**
 * Checks a package README: the docs convention ({@link checkDoc}, markers relative to the
 * package), and an install line (a `sh` block) naming the package and every peer that is not
 * optional. Returns the example files the README shows.
 */
export function checkReadme(packageDir: string, options: Omit<CheckDocOptions, 'root'> = {}): string[] {
  const readme = join(packageDir, 'README.md')
  const examples = checkDoc(readme, { ...options, root: packageDir })
  const pkg = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    name: string
    peerDependencies?: Record<string, string>
    peerDependenciesMeta?: Record<string, { optional?: boolean }>
  }
  const install = readmeBlocks(readFileSync(readme, 'utf8')).find((b) => b.lang === 'sh')?.code ?? ''
  const peers = Object.keys(pkg.peerDependencies ?? {}).filter(
    (p) => pkg.peerDependenciesMeta?.[p]?.optional !== true,
  )
  for (const name of [pkg.name, ...peers]) {
    expect(install, `${readme}: the install line names ${name}`).toMatch(new RegExp(`\\s${name}(\\s|$)`))
  }
  return examples.map((e) => e.file)
}

/**
 * Runs an example file (imports it) with `env` set and `console.log` captured, and returns the
 * logged calls. The environment is restored afterwards.
 */
export async function runExample(file: string, env: Record<string, string> = {}): Promise<unknown[][]> {
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]))
  Object.assign(process.env, env)
  const log = vi.spyOn(console, 'log').mockImplementation(() => {})
  try {
    await import(/* @vite-ignore */ file)
    return log.mock.calls
  } finally {
    log.mockRestore()
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}
