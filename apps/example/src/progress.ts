/** Where a progress bar is drawn. */
export interface ProgressStream {
  readonly isTTY?: boolean
  readonly columns?: number
  write(text: string): unknown
}

/**
 * A progress bar on a terminal (`[██████░░░░] 60% 120,000/200,000 keywords`), redrawn in
 * place; on anything else (a pipe, a log file) one line at the start and one at the end.
 */
export class ProgressBar {
  readonly #out: ProgressStream
  readonly #total: number
  readonly #label: string
  readonly #started = Date.now()
  #lastDraw = -1

  constructor(out: ProgressStream, total: number, label: string) {
    this.#out = out
    this.#total = total
    this.#label = label
    if (!out.isTTY) out.write(`${label}: ${total.toLocaleString('en-US')} to go\n`)
    this.update(0)
  }

  /** Redraws when the shown percentage changed. */
  update(done: number): void {
    if (!this.#out.isTTY) return
    const pct = Math.floor((done / this.#total) * 100)
    if (pct === this.#lastDraw) return
    this.#lastDraw = pct
    const width = 30
    const filled = Math.round((width * pct) / 100)
    const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`
    this.#out.write(
      `\r${this.#label} [${bar}] ${String(pct).padStart(3)}% ${done.toLocaleString('en-US')}/${this.#total.toLocaleString('en-US')}`,
    )
  }

  /** Ends the bar with the elapsed time. */
  done(): void {
    const seconds = ((Date.now() - this.#started) / 1000).toFixed(1)
    if (this.#out.isTTY) this.update(this.#total)
    this.#out.write(`${this.#out.isTTY ? '\n' : ''}${this.#label}: done in ${seconds} s\n`)
  }
}
