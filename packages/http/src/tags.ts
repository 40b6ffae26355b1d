import type { OutgoingHttpHeaders } from 'node:http'
import { MAX_TAG_LENGTH, MAX_TAGS_PER_ENTRY } from '@tiercache/core'
import { splitTags } from './headers.js'
import type { ResolvedOptions } from './options.js'
import type { RequestInfo } from './types.js'

/** The tags of a captured response: the route's `tags` plus the tag header's, bounded. */
export function responseTags(
  o: ResolvedOptions,
  req: RequestInfo,
  headers: OutgoingHttpHeaders,
): readonly string[] {
  const route =
    typeof o.tags === 'function'
      ? safeTags(() => (o.tags as (r: RequestInfo) => readonly string[])(req))
      : o.tags
  const fromHeader =
    o.tagHeader === undefined ? [] : splitTags(headers[o.tagHeader] as string | string[] | undefined)
  if (fromHeader.length === 0) return route
  const all = [...new Set([...route, ...fromHeader])].filter((t) => t.length <= MAX_TAG_LENGTH)
  return all.length > MAX_TAGS_PER_ENTRY ? all.slice(0, MAX_TAGS_PER_ENTRY) : all
}

function safeTags(fn: () => readonly string[]): readonly string[] {
  try {
    const tags = fn()
    return Array.isArray(tags)
      ? tags.filter((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TAG_LENGTH)
      : []
  } catch {
    return []
  }
}
