export { type ExpressApp, type ExpressMiddleware, type ExpressRequest, httpCache } from './middleware.js'
