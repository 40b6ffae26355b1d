import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, test } from 'vitest'
import { checkDoc, readmeBlocks } from '../src/readme.js'
import { tempDir } from '../src/temp.js'

const fence = '```'

test('blocks carry their marker, language, text and line; a longer fence may hold a shorter one', () => {
  const markdown = [
    '# Title',
    '',
    '<!-- test/examples/a.ts -->',
    `${fence}ts`,
    'export const a = 1',
    fence,
    '',
    `${fence}\`sh`,
    `${fence}inner`,
    fence,
    `${fence}\``,
    '',
  ].join('\n')
  expect(readmeBlocks(markdown)).toEqual([
    { marker: 'test/examples/a.ts', lang: 'ts', code: 'export const a = 1\n', line: 4 },
    { marker: undefined, lang: 'sh', code: `${fence}inner\n${fence}\n`, line: 8 },
  ])
})

test('checkDoc accepts a block that is its file, and refuses an unmarked or drifted one', () => {
  const tmp = tempDir('test-kit-readme')
  try {
    writeFileSync(join(tmp.dir, 'a.ts'), 'export const a = 1\n')
    const doc = (body: string): string => {
      const file = join(tmp.dir, 'README.md')
      writeFileSync(file, body)
      return file
    }
    const good = doc(`<!-- a.ts -->\n${fence}ts\nexport const a = 1\n${fence}\n`)
    expect(checkDoc(good).map((e) => e.file)).toEqual([join(tmp.dir, 'a.ts')])
    expect(() => checkDoc(doc(`${fence}ts\nexport const a = 1\n${fence}\n`))).toThrow(
      /without a <!-- path -->/,
    )
    expect(() => checkDoc(doc(`<!-- a.ts -->\n${fence}ts\nexport const a = 2\n${fence}\n`))).toThrow(
      /not the source of a\.ts/,
    )
    // Shell and other blocks are not examples.
    expect(checkDoc(doc(`${fence}sh\nnpm install x\n${fence}\n`))).toEqual([])
  } finally {
    tmp.remove()
  }
})
