/**
 * Express middleware for HTTP response caching on a tiercache instance: a thin adapter over
 * `@tiercache/http` (`httpCache(cache, options)`).
 *
 * @module
 */
export { type ExpressApp, type ExpressMiddleware, type ExpressRequest, httpCache } from './middleware.js'
