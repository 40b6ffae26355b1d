import { createCache } from '@tiercache/core'
import { createHttpCache } from '@tiercache/http'
import { memoryStore } from '@tiercache/store-memory'

const cache = createCache({ tiers: [memoryStore()] })
export const search = createHttpCache(cache, {
  ttl: '5m',
  query: {
    allow: ['q', 'page'], // any other parameter: BYPASS (neither served nor stored)
    ignore: ['utm_source', 'utm_medium'], // left out of the key; the handler must not depend on them
    maxVariants: 100, // at most 100 stored query strings per path and process (default 256)
  },
})
