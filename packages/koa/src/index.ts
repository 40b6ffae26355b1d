export { httpCache, type KoaApp, type KoaContext, type KoaMiddleware } from './middleware.js'
