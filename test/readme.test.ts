/**
 * Every ```ts block in a package README runs (unless the line before it is `<!-- not run -->`),
 * so documented examples cannot drift from the code. Blocks run against package sources.
 * Packages that check their README in their own test/readme.test.ts are left to it.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, test } from 'vitest'

const root = join(import.meta.dirname, '..')
const out = join(import.meta.dirname, '.readme-blocks')
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
afterAll(() => rmSync(out, { recursive: true, force: true }))

interface Block {
  pkg: string
  index: number
  line: number
  code: string
}

function blocks(pkg: string, readme: string): Block[] {
  const lines = readme.split('\n')
  const found: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue
    const skip = lines[i - 1]?.trim() === '<!-- not run -->'
    const start = i
    const code: string[] = []
    for (i++; i < lines.length && lines[i]!.trim() !== '```'; i++) code.push(lines[i]!)
    if (!skip) found.push({ pkg, index: found.length, line: start + 1, code: code.join('\n') })
  }
  return found
}

const all: Block[] = []
for (const dir of readdirSync(join(root, 'packages'))) {
  const file = join(root, 'packages', dir, 'README.md')
  const manifest = join(root, 'packages', dir, 'package.json')
  const isPrivate = existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).private === true
  // Packages with their own test/readme.test.ts check their README blocks themselves (often
  // against private servers); the rest are run here.
  const ownCheck =
    existsSync(join(root, 'packages', dir, 'test', 'readme.test.ts')) || dir === 'store-test-suite'
  if (existsSync(file) && !isPrivate && !ownCheck) {
    all.push(...blocks(dir, readFileSync(file, 'utf8')))
  }
}

describe('README examples run', () => {
  test('there are examples to run', () => {
    expect(all.length).toBeGreaterThan(3)
  })
  test.each(all.map((b) => [`${b.pkg} README.md line ${b.line}`, b] as const))('%s', async (_name, block) => {
    const file = join(out, `${block.pkg}-${block.index}.ts`)
    writeFileSync(file, `${block.code}\nexport {}\n`)
    await import(/* @vite-ignore */ file)
  })
})
