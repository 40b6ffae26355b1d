export { DEFAULT_MAX_BYTES, MemoryStore, memoryStore } from './memory-store.js'
export type { MemoryStoreOptions, MemoryStorePolicy } from './options.js'
