import { memoryStore } from '@tiercache/store-memory'

const l1 = memoryStore({ policy: 'tinylfu', maxBytes: 64 * 2 ** 20 })
console.assert(l1.policy === 'tinylfu')
