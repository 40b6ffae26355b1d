/**
 * The in-process tier (L1): a store bounded in bytes and entries on lru-cache, with a
 * synchronous hit path (`memoryStore`).
 *
 * @module
 */
export { DEFAULT_MAX_BYTES, MemoryStore, memoryStore } from './memory-store.js'
export type { MemoryStoreOptions, MemoryStorePolicy } from './options.js'
