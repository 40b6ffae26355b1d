export { FsStore, fsStore } from './fs-store.js'
export type { FsStoreOptions } from './options.js'
