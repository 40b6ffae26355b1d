export { KeyvStore, keyvStore } from './keyv-store.js'
export type { KeyvAdapterLike, KeyvClearMode, KeyvLike, KeyvStoreOptions } from './options.js'
