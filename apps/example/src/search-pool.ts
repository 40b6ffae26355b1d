import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { SearchResult } from './keyword.js'

interface Task {
  readonly id: number
  readonly query: string
  readonly limit: number
  readonly resolve: (result: SearchResult) => void
  readonly reject: (error: Error) => void
}

/**
 * Worker threads that run searches, each on its own read-only SQLite connection. A search
 * scans the whole table for tens of milliseconds; here it never blocks the event loop, so the
 * requests the cache answers are not held up behind it. Tasks wait in one queue and go to the
 * first idle worker.
 */
export class SearchPool {
  readonly #idle: Worker[] = []
  readonly #busy = new Map<Worker, Task>()
  readonly #queue: Task[] = []
  readonly #workers: Worker[] = []
  #nextId = 0
  #closed = false
  /** Called when a search finishes while closing. */
  #drained: (() => void) | undefined

  /**
   * @param path - the database file (already created and seeded)
   * @param size - number of workers
   */
  constructor(path: string, size: number) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(new URL('./search-worker.js', import.meta.url), { workerData: { path } })
      worker.on('message', (m: { id: number; result?: SearchResult; error?: string }) =>
        this.#done(worker, m),
      )
      worker.on('error', (error) => this.#failed(worker, error))
      worker.unref()
      this.#workers.push(worker)
      this.#idle.push(worker)
    }
  }

  /** Runs a search on the first idle worker. */
  search(query: string, limit: number): Promise<SearchResult> {
    if (this.#closed) return Promise.reject(new Error('the search pool is closed'))
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: ++this.#nextId, query, limit, resolve, reject })
      this.#dispatch()
    })
  }

  /** Searches waiting for a worker. */
  get queued(): number {
    return this.#queue.length
  }

  #dispatch(): void {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop() as Worker
      const task = this.#queue.shift() as Task
      this.#busy.set(worker, task)
      worker.postMessage({ id: task.id, query: task.query, limit: task.limit })
    }
  }

  #done(worker: Worker, m: { id: number; result?: SearchResult; error?: string }): void {
    const task = this.#busy.get(worker)
    this.#busy.delete(worker)
    this.#idle.push(worker)
    if (task !== undefined && task.id === m.id) {
      if (m.error !== undefined) task.reject(new Error(m.error))
      else task.resolve(m.result as SearchResult)
    }
    this.#dispatch()
    this.#drained?.()
  }

  #failed(worker: Worker, error: Error): void {
    const task = this.#busy.get(worker)
    this.#busy.delete(worker)
    task?.reject(error)
    // A worker that crashed is gone; the others carry on.
    const i = this.#workers.indexOf(worker)
    if (i >= 0) this.#workers.splice(i, 1)
    if (this.#workers.length === 0) {
      for (const t of this.#queue.splice(0)) t.reject(new Error('every search worker failed'))
    }
    this.#drained?.()
  }

  /** Runs the searches already asked for, then stops the workers. New searches are refused. */
  async close(): Promise<void> {
    this.#closed = true
    while (this.#queue.length > 0 || this.#busy.size > 0) {
      if (this.#workers.length === 0) break
      await new Promise<void>((resolve) => {
        this.#drained = resolve
      })
    }
    await Promise.all(
      this.#workers.map(async (worker) => {
        worker.ref() // keep the process alive until the worker has closed its connection
        const exited = once(worker, 'exit')
        worker.postMessage('close')
        await exited
      }),
    )
  }
}
