/**
 * Koa middleware for HTTP response caching on a tiercache instance: a thin adapter over
 * `@tiercache/http` (`httpCache(cache, options)`), for Koa 2 and 3 and `@koa/router`.
 *
 * @module
 */
export { httpCache, type KoaApp, type KoaContext, type KoaMiddleware } from './middleware.js'
