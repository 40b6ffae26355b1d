/**
 * A tiercache tier on any Keyv storage adapter (`keyvStore`): Redis, SQLite, PostgreSQL, MySQL,
 * MongoDB, Map…, with exact namespace clears and typed errors.
 *
 * @module
 */
export { KeyvStore, keyvStore } from './keyv-store.js'
export type { KeyvAdapterLike, KeyvClearMode, KeyvLike, KeyvStoreOptions } from './options.js'
