/**
 * The example store of docs/writing-a-store.md: one file per key on `node:fs`, proved by the
 * conformance suite and usable as an L2 tier.
 *
 * @module
 */
export { FsStore, fsStore } from './fs-store.js'
export type { FsStoreOptions } from './options.js'
