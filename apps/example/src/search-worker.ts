// A search worker: its own read-only connection, one search at a time (see search-pool.ts).
import { parentPort, workerData } from 'node:worker_threads'
import { openDatabase } from './database.js'
import { searchKeywords } from './keyword-repository.js'

const port = parentPort
if (port === null) throw new Error('search-worker.js runs as a worker thread')
const database = openDatabase((workerData as { path: string }).path, { readonly: true })

port.on('message', (task: { id: number; query: string; limit: number } | 'close') => {
  if (task === 'close') {
    void database.close().then(() => port.close())
    return
  }
  searchKeywords(database.db, task.query, task.limit).then(
    (result) => port.postMessage({ id: task.id, result }),
    (error: unknown) =>
      port.postMessage({ id: task.id, error: error instanceof Error ? error.message : String(error) }),
  )
})
