/**
 * scripts/progress.mjs, which the Makefile wraps the README's two commands in: it passes output
 * through, fills silences with progress lines, stops at --until, keeps the exit code, and prints
 * nothing after the command's last line (CI reads `make test`'s "N passed, N failed").
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { expect, test } from 'vitest'

const script = join(import.meta.dirname, '..', 'scripts', 'progress.mjs')

function run(args: string[]): Promise<{ code: number | null; lines: { at: number; text: string }[] }> {
  return new Promise((resolve) => {
    const started = Date.now()
    const child = spawn('node', [script, ...args])
    const lines: { at: number; text: string }[] = []
    let rest = ''
    child.stdout.on('data', (chunk: Buffer) => {
      const parts = (rest + chunk.toString()).split('\n')
      rest = parts.pop() ?? ''
      for (const text of parts) lines.push({ at: Date.now() - started, text })
    })
    child.on('close', (code) => resolve({ code, lines }))
  })
}

test('a silent step gets a progress line at least every --every seconds, and the last line is the command’s', async () => {
  const { code, lines } = await run([
    '--label',
    'building',
    '--every',
    '1',
    '--',
    'bash',
    '-c',
    'echo first; sleep 4.5; echo "3 passed, 0 failed"',
  ])
  expect(code).toBe(0)
  const texts = lines.map((l) => l.text)
  expect(texts[0]).toMatch(/^==> building: bash -c/)
  expect(texts[1]).toBe('first')
  expect(texts.at(-1)).toBe('3 passed, 0 failed')
  const beats = texts.filter((t) => t.startsWith('... building: '))
  expect(beats.length).toBeGreaterThanOrEqual(2)
  expect(beats[0]).toMatch(/^\.\.\. building: \d+s \(now: sleep 4\.5\)$/)
  // No silence longer than --every plus the 1 s check interval (and some slack for a busy machine).
  for (let i = 1; i < lines.length; i++) expect(lines[i]!.at - lines[i - 1]!.at).toBeLessThan(3500)
})

test('--until stops the progress lines (a server that is up), and the exit code is kept', async () => {
  const { code, lines } = await run([
    '--label',
    'starting',
    '--every',
    '1',
    '--until',
    'listening on',
    '--',
    'bash',
    '-c',
    'echo "listening on http://127.0.0.1:3000"; sleep 3; exit 3',
  ])
  expect(code).toBe(3)
  expect(lines.filter((l) => l.text.startsWith('... '))).toEqual([])
})
