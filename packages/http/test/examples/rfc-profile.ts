import { HEURISTIC_STATUSES, type HttpCacheOptions } from '@tiercache/http'

export const rfcProfile: HttpCacheOptions = {
  allowAuthorization: true,
  allowCookies: true,
  honorRequestNoCache: true,
  statuses: HEURISTIC_STATUSES,
}
