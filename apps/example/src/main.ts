#!/usr/bin/env node
// The keyword search service: `node dist/main.js` (or `pnpm start` at the repository root).
import { loadConfig } from './config.js'
import { startService } from './service.js'

try {
  const service = await startService(loadConfig())
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) {
      console.error(`${signal} again: exiting at once`)
      process.exit(1)
    }
    stopping = true
    console.log(`${signal}: shutting down`)
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('shutdown failed:', error)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
} catch (error) {
  console.error(`the service did not start: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
}
