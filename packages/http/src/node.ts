import {
  type IncomingHttpHeaders,
  IncomingMessage,
  type OutgoingHttpHeaders,
  ServerResponse,
} from 'node:http'
import type { Socket } from 'node:net'
import { PassThrough, type Readable } from 'node:stream'
import type { Capture, HeadDecision, Reply } from './types.js'

/**
 * Writes a reply to a Node response (`http.ServerResponse`, Express's `res`): headers, status,
 * body. Middleware that wraps `writeHead`/`write`/`end` (compression) sees it like any response.
 */
export function writeNodeResponse(res: ServerResponse, reply: Reply): void {
  const h = reply.headers
  for (let i = 0; i < h.length; i++) {
    const header = h[i] as readonly [string, string | readonly string[]]
    res.setHeader(header[0], header[1])
  }
  const x = reply.extra
  for (let i = 0; i < x.length; i += 2) res.setHeader(x[i] as string, x[i + 1] as string)
  res.statusCode = reply.status
  if (reply.body === null) res.end()
  else res.end(reply.body)
}

type Callback = (error?: Error | null) => void

function bytesOf(chunk: unknown, encoding: unknown): Uint8Array | undefined {
  if (chunk === undefined || chunk === null) return undefined
  if (typeof chunk === 'string')
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
  if (chunk instanceof Uint8Array) return chunk
  return undefined
}

function applyHeaders(res: ServerResponse, headers: unknown): void {
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0])) {
      for (const [k, v] of headers as [string, string][]) res.appendHeader(k, v)
    } else {
      for (let i = 0; i + 1 < headers.length; i += 2) res.appendHeader(String(headers[i]), headers[i + 1])
    }
  } else if (typeof headers === 'object' && headers !== null) {
    const obj = headers as OutgoingHttpHeaders
    for (const k in obj) {
      const v = obj[k]
      if (v !== undefined) res.setHeader(k, v)
    }
  }
}

/**
 * Reports a Node response to a capture as the handler writes it, by wrapping the response's
 * `writeHead`, `write` and `end`. The response streams through to the client unchanged, except
 * when the capture decides otherwise: a 304 for a conditional request (the body is captured,
 * not sent), the stored response instead of the handler's (stale-if-error on a 5xx, or a 304
 * that freshened it), or nothing at all for a background revalidation. Every style a handler
 * answers in is covered (`end(body)`, `writeHead` + `end`, `write` + `end`, piped streams); once
 * the handler's response is replaced, whatever it still writes is discarded (callbacks still run).
 */
export function captureNodeResponse(res: ServerResponse, capture: Capture): void {
  const writeHead = res.writeHead
  const write = res.write
  const end = res.end
  const background = capture.background
  /** 0 headers pending, 1 streaming through, 2 sending 304 (body captured only), 3 replaced, 4 ended */
  let state = 0
  let capturing = true

  /** Sends a reply with the response's own methods (the wrappers stay, discarding later writes). */
  const sendReply = (reply: Reply): void => {
    for (const name of res.getHeaderNames()) res.removeHeader(name)
    for (const [name, value] of reply.headers) res.setHeader(name, value as string | string[])
    const x = reply.extra
    for (let i = 0; i < x.length; i += 2) res.setHeader(x[i] as string, x[i + 1] as string)
    if (background) {
      res.statusCode = reply.status
      res.emit('finish')
      return
    }
    ;(writeHead as (...a: unknown[]) => ServerResponse).call(res, reply.status)
    if (reply.body === null) (end as (...a: unknown[]) => ServerResponse).call(res)
    else (end as (...a: unknown[]) => ServerResponse).call(res, reply.body)
  }

  res.writeHead = function writeHeadCaptured(this: ServerResponse, status: number, ...rest: unknown[]) {
    if (state === 3) return res
    if (state !== 0) return (writeHead as (...a: unknown[]) => ServerResponse).call(res, status, ...rest)
    let reason: string | undefined
    let headers: unknown = rest[0]
    if (typeof headers === 'string') {
      reason = headers
      headers = rest[1]
    }
    applyHeaders(res, headers)
    let d: HeadDecision
    try {
      d = capture.head(status, res.getHeaders())
    } catch {
      capture.abandon()
      d = { kind: 'send', extra: [], remove: [], notModified: false }
    }
    if (d.kind === 'replace') {
      state = 3
      sendReply(d.reply)
      return res
    }
    for (const name of d.remove) res.removeHeader(name)
    for (let i = 0; i < d.extra.length; i += 2) res.setHeader(d.extra[i] as string, d.extra[i + 1] as string)
    let code = status
    if (d.notModified) {
      state = 2
      code = 304
    } else state = 1
    if (background) {
      res.statusCode = code
      return res
    }
    return (writeHead as (...a: unknown[]) => ServerResponse).call(
      res,
      code,
      ...(reason === undefined || code !== status ? [] : [reason]),
    )
  } as typeof res.writeHead

  res.write = function writeCaptured(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
    if (state === 0) res.writeHead(res.statusCode)
    if (typeof encoding === 'function') {
      cb = encoding
      encoding = undefined
    }
    if (state === 3) {
      if (typeof cb === 'function') process.nextTick(cb as Callback)
      return true
    }
    if (state === 4) return (write as (...a: unknown[]) => boolean).call(res, chunk, encoding, cb)
    if (capturing) {
      const bytes = bytesOf(chunk, encoding)
      if (bytes !== undefined && bytes.byteLength > 0) capturing = capture.chunk(bytes)
    }
    if (state === 2 || background) {
      if (typeof cb === 'function') process.nextTick(cb as Callback)
      return true
    }
    return (write as (...a: unknown[]) => boolean).call(res, chunk, encoding, cb)
  } as typeof res.write

  res.end = function endCaptured(chunk?: unknown, encoding?: unknown, cb?: unknown): ServerResponse {
    if (typeof chunk === 'function') {
      cb = chunk
      chunk = undefined
    } else if (typeof encoding === 'function') {
      cb = encoding
      encoding = undefined
    }
    if (state === 0) res.writeHead(res.statusCode)
    if (state === 3) {
      if (typeof cb === 'function') process.nextTick(cb as Callback)
      return res
    }
    if (state === 4) return (end as (...a: unknown[]) => ServerResponse).call(res, chunk, encoding, cb)
    if (capturing) {
      const bytes = bytesOf(chunk, encoding)
      if (bytes !== undefined && bytes.byteLength > 0) capturing = capture.chunk(bytes)
    }
    const wasNotModified = state === 2
    state = 4
    capture.end()
    if (background) {
      res.emit('finish')
      if (typeof cb === 'function') process.nextTick(cb as Callback)
      return res
    }
    if (wasNotModified) return (end as (...a: unknown[]) => ServerResponse).call(res, cb)
    return (end as (...a: unknown[]) => ServerResponse).call(res, chunk, encoding, cb)
  } as typeof res.end

  if (!background) {
    res.once('close', () => {
      if (state !== 4 && state !== 3) capture.abandon()
    })
  }
}

/** Headers given to `writeHead` (object, flat list or list of pairs) as a lower-case object. */
function headerObject(headers: unknown): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {}
  const add = (k: unknown, v: unknown): void => {
    const name = String(k).toLowerCase()
    const prev = out[name]
    const value = Array.isArray(v) ? v.map(String) : String(v)
    out[name] = prev === undefined ? value : ([] as string[]).concat(prev as string | string[], value)
  }
  if (Array.isArray(headers)) {
    if (headers.length > 0 && Array.isArray(headers[0]))
      for (const [k, v] of headers as [string, string][]) add(k, v)
    else for (let i = 0; i + 1 < headers.length; i += 2) add(headers[i], headers[i + 1])
  } else if (typeof headers === 'object' && headers !== null) {
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) add(k, v)
  }
  return out
}

/**
 * For a `pass` plan with `settle` (an unsafe method): calls `settle` with the final status and
 * headers once the response is complete, including headers handed to `writeHead` directly
 * (which `getHeaders()` does not show), so a `Location` set either way is invalidated.
 */
export function settleNodeResponse(
  res: ServerResponse,
  settle: (status: number, headers: OutgoingHttpHeaders) => void,
): void {
  const writeHead = res.writeHead
  let given: OutgoingHttpHeaders | undefined
  res.writeHead = function writeHeadSettled(this: ServerResponse, status: number, ...rest: unknown[]) {
    const headers = typeof rest[0] === 'string' ? rest[1] : rest[0]
    if (headers !== undefined) given = headerObject(headers)
    res.writeHead = writeHead
    return (writeHead as (...a: unknown[]) => ServerResponse).call(res, status, ...rest)
  } as typeof res.writeHead
  res.once('finish', () =>
    settle(res.statusCode, given === undefined ? res.getHeaders() : { ...res.getHeaders(), ...given }),
  )
}

/**
 * Pipes a body stream through a tap that reports its bytes to a capture (until they outgrow
 * `maxEntryBytes`), and returns the stream to send instead. The client gets every byte as it
 * comes; the capture ends when the stream does.
 */
export function teeStream(source: Readable, capture: Capture): Readable {
  let capturing = true
  let ended = false
  const out = new PassThrough()
  source.on('data', (chunk: unknown) => {
    if (capturing) {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array)
      capturing = capture.chunk(bytes)
    }
  })
  source.once('end', () => {
    ended = true
    capture.end()
  })
  source.once('error', (error) => {
    ended = true
    capture.abandon()
    out.destroy(error)
  })
  out.once('close', () => {
    if (!ended) {
      ended = true
      capture.abandon()
      source.destroy()
    }
  })
  source.pipe(out)
  return out
}

/**
 * A GET (or HEAD) request and a response object that goes nowhere, for dispatching a background
 * revalidation through an application. The request looks like it came from the same client
 * (remote address, TLS) with the given headers.
 */
export function syntheticRequest(
  source: IncomingMessage,
  url: string,
  method: string,
  headers: IncomingHttpHeaders,
): { req: IncomingMessage; res: ServerResponse } {
  const from = source.socket as (Socket & { encrypted?: boolean }) | null
  const socket = {
    encrypted: from?.encrypted === true ? true : undefined,
    remoteAddress: from?.remoteAddress,
    remotePort: from?.remotePort,
    remoteFamily: from?.remoteFamily,
    localAddress: from?.localAddress,
    localPort: from?.localPort,
    readable: false,
    writable: false,
    destroyed: false,
    on(): unknown {
      return socket
    },
    once(): unknown {
      return socket
    },
    removeListener(): unknown {
      return socket
    },
    off(): unknown {
      return socket
    },
    emit(): boolean {
      return false
    },
    setTimeout(): unknown {
      return socket
    },
    destroy(): void {},
  }
  const req = new IncomingMessage(socket as unknown as Socket)
  req.method = method
  req.url = url
  req.headers = headers
  const raw: string[] = []
  for (const name in headers) {
    const v = headers[name]
    if (Array.isArray(v)) for (const item of v) raw.push(name, item)
    else if (v !== undefined) raw.push(name, v)
  }
  req.rawHeaders = raw
  req.httpVersion = '1.1'
  req.httpVersionMajor = 1
  req.httpVersionMinor = 1
  req.complete = true
  req.push(null)
  const res = new ServerResponse(req)
  return { req, res }
}

function isStream(body: unknown): body is Readable {
  return typeof (body as Readable).pipe === 'function' && typeof (body as Readable).on === 'function'
}

/**
 * Reports a framework's body value to a capture and returns what to send in its place: strings
 * and bytes as they are, a Node stream teed as it is sent, any other object as its JSON text
 * (what Koa would send). Web streams, `Blob` and `Response` bodies are not captured.
 *
 * @param send - false when the body will not be sent (304, background revalidation): a stream is then drained into the capture
 */
export function captureBody(capture: Capture, body: unknown, send: boolean): unknown {
  if (body === null || body === undefined) {
    capture.end()
    return body
  }
  if (typeof body === 'string' || body instanceof Uint8Array) {
    capture.chunk(typeof body === 'string' ? Buffer.from(body) : body)
    capture.end()
    return body
  }
  if (isStream(body)) {
    const tee = teeStream(body, capture)
    if (!send) tee.resume()
    return tee
  }
  if (
    typeof body !== 'object' ||
    body instanceof Blob ||
    body instanceof ReadableStream ||
    body instanceof Response
  ) {
    capture.abandon()
    return body
  }
  const json = JSON.stringify(body)
  capture.chunk(Buffer.from(json))
  capture.end()
  return json
}
