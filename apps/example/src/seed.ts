import type { KeywordDatabase } from './database.js'
import { Prng } from './prng.js'
import { ProgressBar, type ProgressStream } from './progress.js'
import { NOUNS, PREFIXES, SUFFIXES } from './words.js'

/** Bump when the generator changes, so existing databases are seeded again. */
export const SEED_VERSION = 1
const SEED = 20_250_101

/** One generated keyword row (without its id). */
export interface GeneratedKeyword {
  readonly term: string
  readonly volume: number
  readonly difficulty: number
  readonly related: readonly string[]
}

/**
 * The deterministic keyword generator: the same `count` gives the same rows on every machine.
 * Terms are unique; volumes follow a long tail from 10 to 1,000,000 monthly searches; related
 * terms share the subject.
 */
export function* generateKeywords(count: number): Generator<GeneratedKeyword> {
  const prng = new Prng(SEED)
  const seen = new Set<string>()
  const bySubject = new Map<string, string[]>()
  for (let i = 0; i < count; i++) {
    let term: string
    let noun: string
    do {
      noun = prng.pick(NOUNS)
      const parts = [noun]
      if (prng.next() < 0.55) parts.unshift(prng.pick(PREFIXES))
      if (prng.next() < 0.5) {
        const second = prng.pick(NOUNS)
        if (second !== noun) parts.push(second)
      }
      if (prng.next() < 0.6) parts.push(prng.pick(SUFFIXES))
      term = parts.join(' ')
    } while (seen.has(term))
    seen.add(term)
    const recent = bySubject.get(noun) ?? []
    const related = recent.slice(-prng.int(2, 5))
    recent.push(term)
    if (recent.length > 8) recent.shift()
    bySubject.set(noun, recent)
    yield {
      term,
      volume: Math.round(10 * 10 ** (5 * prng.next() ** 3)),
      difficulty: prng.int(1, 100),
      related,
    }
  }
}

/** What {@link seedKeywords} did. */
export interface SeedResult {
  /** Rows in the table afterwards. */
  readonly count: number
  /** False when the database already held this seed. */
  readonly seeded: boolean
}

/**
 * Fills the `keywords` table with `count` generated rows, unless it already holds exactly this
 * seed. Runs in one immediate transaction with one prepared statement; draws a progress bar on
 * `progress` (stderr) when it is a terminal.
 */
export function seedKeywords(database: KeywordDatabase, count: number, progress: ProgressStream): SeedResult {
  const { sqlite } = database
  const marker = `${SEED_VERSION}:${count}`
  const current = sqlite.prepare('SELECT value FROM meta WHERE key = ?').pluck()
  if (current.get('seed') === marker) return { count, seeded: false }

  const insert = sqlite.prepare(
    'INSERT INTO keywords (id, term, volume, difficulty, related, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
  )
  let seeded = false
  sqlite
    .transaction(() => {
      if (current.get('seed') === marker) return // another process seeded it meanwhile
      sqlite.exec('DELETE FROM keywords; DROP INDEX IF EXISTS keywords_volume')
      const bar = new ProgressBar(progress, count, 'seeding keywords')
      const now = Date.now()
      let id = 0
      for (const k of generateKeywords(count)) {
        id++
        insert.run(id, k.term, k.volume, k.difficulty, JSON.stringify(k.related), now)
        if (id % 2000 === 0) bar.update(id)
      }
      sqlite.exec('CREATE INDEX keywords_volume ON keywords (volume DESC)')
      sqlite.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run('seed', marker)
      bar.done()
      seeded = true
    })
    .immediate()
  if (seeded) sqlite.exec('ANALYZE')
  return { count, seeded }
}
