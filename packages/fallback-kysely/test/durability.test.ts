/**
 * Durability: a child process writes through the store into a SQLite file (WAL,
 * synchronous = NORMAL), acknowledges each write, and is killed with SIGKILL; a new process
 * then reads every acknowledged value from the file. The children run the built package
 * (`pnpm build` first; the repository's test command builds before testing).
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { tempDir, uniqueTable } from '@tiercache/test-kit'
import { afterAll, expect, test } from 'vitest'
import { kyselyStore } from '../src/index.js'

const run = promisify(execFile)
const fixtures = join(import.meta.dirname, 'fixtures')
const { dir, remove: removeDir } = tempDir('tiercache-durable')
afterAll(() => removeDir())

/** Resolves the highest acknowledged index once at least `wanted` acks arrived. */
function acksUntil(child: ChildProcess, wanted: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let buffered = ''
    let last = -1
    child.stdout!.setEncoding('utf8')
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      for (const line of lines) if (line.startsWith('ack ')) last = Number(line.slice(4))
      if (last + 1 >= wanted) resolve(last)
    })
    child.once('exit', (code, signal) => reject(new Error(`writer exited early (${code ?? signal})`)))
  })
}

test('every write acknowledged before SIGKILL is read back by a new process', async () => {
  expect(existsSync(join(import.meta.dirname, '..', 'dist', 'index.js')), 'run `pnpm build` first').toBe(true)
  const file = join(dir, 'durable.db')
  const table = uniqueTable()
  const writer = spawn(process.execPath, [join(fixtures, 'durable-writer.mjs'), file, table], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const exited = new Promise<NodeJS.Signals | null>((resolve) => writer.once('exit', (_c, s) => resolve(s)))
  let lastAck: number
  try {
    // Writes keep going while the acks are read: the kill lands in the middle of the stream.
    lastAck = await acksUntil(writer, 500)
  } finally {
    writer.kill('SIGKILL')
  }
  expect(await exited).toBe('SIGKILL')
  const acknowledged = lastAck + 1

  const { stdout } = await run(process.execPath, [
    join(fixtures, 'durable-reader.mjs'),
    file,
    table,
    String(acknowledged),
  ])
  const report = JSON.parse(stdout) as { read: number; missing: number[]; wrong: number[] }
  expect(report).toEqual({ read: acknowledged, missing: [], wrong: [] })

  // The file is healthy for a store in this process too.
  const store = kyselyStore({ sqlite: file }, { table })
  try {
    const stats = await store.stats()
    expect(stats.entries).toBeGreaterThanOrEqual(acknowledged)
  } finally {
    await store.close()
  }
})
