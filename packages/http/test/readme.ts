import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'

/** Checks a package README: every TypeScript block is the literal source of a tested example file, and the install line names the package and its peers. */
export function checkReadme(root: string): void {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const blocks = [...readme.matchAll(/(?:^<!-- (\S+) -->\n)?^(`{3,})(\w*)\n([\s\S]*?)^\2$/gm)].map((m) => ({
    file: m[1],
    lang: m[3],
    code: m[4] as string,
  }))
  const ts = blocks.filter((b) => b.lang === 'ts')
  expect(ts.length).toBeGreaterThan(0)
  for (const block of ts) {
    expect(block.file, 'a TypeScript block without a <!-- path --> marker').toBeDefined()
    expect(block.code).toBe(readFileSync(join(root, block.file as string), 'utf8'))
  }
  const install = blocks.find((b) => b.lang === 'sh')?.code ?? ''
  for (const name of [pkg.name, ...Object.keys(pkg.peerDependencies ?? {})]) {
    expect(install).toMatch(new RegExp(`\\s${name}(\\s|$)`))
  }
}
