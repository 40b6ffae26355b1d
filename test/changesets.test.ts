/**
 * Changesets plans the releases the pending changesets ask for, and reads the options of
 * `.changeset/config.json` (an option under a key it does not read is silently off).
 *
 * Each test runs `changeset status` in a scratch git repository holding the workspace's package
 * manifests, the changesets config and the changesets under test, on a `main` branch: the plan
 * depends only on those files, never on the state of the clone the tests run in. And every peer
 * range a published package declares is bounded above, so a release never claims to work with
 * majors nobody has run it with.
 */
import { execFile } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, expect, test } from 'vitest'

const exec = promisify(execFile)
const root = join(import.meta.dirname, '..')
const changesetBin = join(root, 'node_modules', '.bin', 'changeset')
const scratch = mkdtempSync(join(tmpdir(), 'tiercache-changesets-'))
afterAll(() => rmSync(scratch, { recursive: true, force: true }))

type Bump = 'none' | 'patch' | 'minor' | 'major'
const RANK: Record<Bump, number> = { none: 0, patch: 1, minor: 2, major: 3 }

interface Release {
  readonly name: string
  readonly type: Bump
  readonly oldVersion: string
  readonly newVersion: string
}

/** The workspace's package folders (pnpm-workspace.yaml: packages/*, apps/*, bench). */
function workspaceFolders(): string[] {
  const folders = ['bench']
  for (const parent of ['packages', 'apps']) {
    for (const name of readdirSync(join(root, parent))) folders.push(join(parent, name))
  }
  return folders.filter((folder) => {
    try {
      readFileSync(join(root, folder, 'package.json'))
      return true
    } catch {
      return false
    }
  })
}

/** The pending changesets: file name to their front matter's package bumps. */
function pendingChangesets(): Map<string, Map<string, Bump>> {
  const out = new Map<string, Map<string, Bump>>()
  const dir = join(root, '.changeset')
  for (const file of readdirSync(dir)) {
    if (!file.endsWith('.md') || file === 'README.md') continue
    const text = readFileSync(join(dir, file), 'utf8')
    const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? ''
    const bumps = new Map<string, Bump>()
    for (const line of front.split('\n')) {
      const m = /^\s*["']?([^"':]+)["']?\s*:\s*(patch|minor|major)\s*$/.exec(line)
      if (m) bumps.set(m[1] as string, m[2] as Bump)
    }
    out.set(file, bumps)
  }
  return out
}

/**
 * A scratch repository: the workspace manifests (each passed through `edit`), the changesets
 * config and `changesets` (file name to content), committed on `main`.
 */
async function scratchRepo(
  name: string,
  changesets: ReadonlyMap<string, string>,
  edit: (manifest: Record<string, any>) => void = () => {},
): Promise<string> {
  const dir = join(scratch, name)
  mkdirSync(join(dir, '.changeset'), { recursive: true })
  for (const file of ['package.json', 'pnpm-workspace.yaml', '.changeset/config.json']) {
    cpSync(join(root, file), join(dir, file))
  }
  for (const folder of workspaceFolders()) {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8'))
    edit(manifest)
    mkdirSync(join(dir, folder), { recursive: true })
    writeFileSync(join(dir, folder, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  }
  for (const [file, content] of changesets) writeFileSync(join(dir, '.changeset', file), content)
  const git = (...args: string[]) =>
    exec('git', ['-c', 'user.name=changesets', '-c', 'user.email=changesets@localhost', ...args], {
      cwd: dir,
    })
  await git('init', '--quiet', '--initial-branch=main')
  await git('add', '--all')
  await git('commit', '--quiet', '--no-gpg-sign', '--message', 'scratch')
  return dir
}

/** The release plan of `changeset status`, by package name. */
async function status(dir: string): Promise<Map<string, Release>> {
  const output = join(dir, 'status.json')
  await exec(changesetBin, ['status', `--output=${output}`], { cwd: dir })
  const plan = JSON.parse(readFileSync(output, 'utf8')) as { releases: Release[] }
  return new Map(plan.releases.map((r) => [r.name, r]))
}

function changeset(bumps: Record<string, Bump>): string {
  const lines = Object.entries(bumps).map(([name, bump]) => `"${name}": ${bump}`)
  return `---\n${lines.join('\n')}\n---\n\nA change.\n`
}

const CORE = '@tiercache/core'

test('the pending changesets plan exactly the bumps they declare', async () => {
  const pending = pendingChangesets()
  const declared = new Map<string, Bump>()
  const files = new Map<string, string>()
  for (const [file, bumps] of pending) {
    files.set(file, readFileSync(join(root, '.changeset', file), 'utf8'))
    for (const [name, bump] of bumps) {
      if (RANK[bump] > RANK[declared.get(name) ?? 'none']) declared.set(name, bump)
    }
  }
  const plan = await status(await scratchRepo('pending', files))
  for (const [name, bump] of declared) {
    expect(plan.get(name)?.type, `${name}: the bump its changesets declare`).toBe(bump)
  }
  for (const release of plan.values()) {
    if (declared.has(release.name)) continue
    // A package no changeset names is at most patched, as a dependent of a bumped package.
    expect(['none', 'patch'], `${release.name} is bumped (${release.type}) by no changeset`).toContain(
      release.type,
    )
  }
})

test('a patch of core bumps no adapter: its peer range still holds', async () => {
  const plan = await status(
    await scratchRepo('core-patch', new Map([['core.md', changeset({ [CORE]: 'patch' })]])),
  )
  const bumped = [...plan.values()].filter((r) => r.type !== 'none').map((r) => r.name)
  expect(bumped).toEqual([CORE])
})

test('onlyUpdatePeerDependentsWhenOutOfRange is read: a breaking core release leaves adapters whose peer range admits it', async () => {
  const core = JSON.parse(readFileSync(join(root, 'packages', 'core', 'package.json'), 'utf8')) as {
    version: string
  }
  const [major, minor] = core.version.split('.').map(Number) as [number, number]
  // Below 1.0 a minor bump is the breaking one (it leaves `^0.x.0`); from 1.0, a major.
  const bump: Bump = major === 0 ? 'minor' : 'major'
  const next = major === 0 ? `^0.${minor + 1}.0` : `^${major + 1}.0.0`
  const widened = '@tiercache/store-memory'
  const plan = await status(
    await scratchRepo('core-breaking', new Map([['core.md', changeset({ [CORE]: bump })]]), (manifest) => {
      const peers = manifest.peerDependencies as Record<string, string> | undefined
      if (manifest.name === widened && peers?.[CORE] !== undefined) {
        peers[CORE] = `${peers[CORE]} || ${next}`
      }
    }),
  )
  expect(plan.get(CORE)?.type).toBe(bump)
  // The adapter that widened its peer range in the same change is not bumped (with the option
  // off, changesets gives every peer dependent of a minor or major bump a major one)...
  expect(plan.get(widened)?.type, `${widened} widened its peer range`).toBe('none')
  // ...and one that did not is bumped, since the new core leaves its range.
  expect(plan.get('@tiercache/store-redis')?.type).not.toBe('none')
})

test('every peer range of a published package has an upper bound', () => {
  const open: string[] = []
  for (const folder of workspaceFolders()) {
    const manifest = JSON.parse(readFileSync(join(root, folder, 'package.json'), 'utf8')) as {
      name: string
      private?: boolean
      peerDependencies?: Record<string, string>
    }
    if (manifest.private === true) continue
    for (const [peer, range] of Object.entries(manifest.peerDependencies ?? {})) {
      // Each alternative is a caret or tilde range, an exact version, or a comparator set with `<`.
      const bounded = range
        .split('||')
        .map((part) => part.trim())
        .every((part) => /^[\^~]\d/.test(part) || /^\d+\.\d+\.\d+$/.test(part) || /<=?\s*\d/.test(part))
      if (!bounded) open.push(`${manifest.name}: ${peer} ${range}`)
    }
  }
  expect(open, 'peer ranges without an upper bound').toEqual([])
})
