/**
 * The monorepo's test kit (private, never published): fake stores, bus and lock hubs, promise
 * helpers and `waitFor`, temporary directories and unique names. The README checker is
 * `@tiercache/test-kit/readme`; the HTTP adapter scenario suite is `@tiercache/test-kit/http`.
 *
 * @module
 */
export { busHub, lockHub } from './hubs.js'
export { uniqueId, uniqueName, uniquePrefix, uniqueTable } from './names.js'
export { caught, deferred, settle, waitFor } from './promises.js'
export { BATCH_CAPABILITIES, localStore, type RemoteMap, remoteStore } from './stores.js'
export { type TempDir, tempDir } from './temp.js'
