import { connect as netConnect, type Socket } from 'node:net'
import { connect as tlsConnect } from 'node:tls'

/** A decoded RESP2 reply: a status or bulk string, an integer, null, or an array of replies. */
export type RespReply = string | number | null | RespReply[]

/** How {@link redisCommand} reaches a server. */
export interface RespTarget {
  /** Host name or address. @default '127.0.0.1' */
  readonly host?: string
  /** TCP port. */
  readonly port: number
  /** TLS options; when given the connection uses TLS. */
  readonly tls?: { readonly ca?: string; readonly cert?: string; readonly key?: string }
  /** ACL user and password, sent with `AUTH` before the commands. */
  readonly auth?: { readonly username?: string; readonly password: string }
  /** Give up after this many milliseconds. @default 2000 */
  readonly timeout?: number
}

/** A reply error (`-ERR ...`) from the server. */
export class RespError extends Error {
  /**
   * @param message - the server's error text
   */
  constructor(message: string) {
    super(message)
    this.name = 'RespError'
  }
}

function encode(args: readonly (string | number)[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)]
  for (const arg of args) {
    const b = Buffer.from(String(arg))
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'))
  }
  return Buffer.concat(parts)
}

/** Parses one reply at `pos`; returns it and the next position, or undefined when incomplete. */
function parse(buf: Buffer, pos: number): [RespReply | RespError, number] | undefined {
  const eol = buf.indexOf('\r\n', pos)
  if (eol < 0) return undefined
  const type = String.fromCharCode(buf[pos] as number)
  const line = buf.toString('utf8', pos + 1, eol)
  const next = eol + 2
  switch (type) {
    case '+':
      return [line, next]
    case '-':
      return [new RespError(line), next]
    case ':':
      return [Number(line), next]
    case '$': {
      const len = Number(line)
      if (len < 0) return [null, next]
      if (buf.length < next + len + 2) return undefined
      return [buf.toString('utf8', next, next + len), next + len + 2]
    }
    case '*': {
      const len = Number(line)
      if (len < 0) return [null, next]
      const items: RespReply[] = []
      let p = next
      for (let i = 0; i < len; i++) {
        const r = parse(buf, p)
        if (!r) return undefined
        const [item, after] = r
        items.push(item instanceof RespError ? item.message : item)
        p = after
      }
      return [items, p]
    }
    default:
      throw new RespError(`unexpected RESP type byte ${JSON.stringify(type)}`)
  }
}

/**
 * Sends commands to a Redis server over a fresh connection and resolves their replies in order.
 * A tiny RESP2 client for test setup (readiness probes, `CLUSTER MEET`, `ACL SETUSER`), so the
 * helper needs no Redis client library.
 *
 * @param target - where to connect
 * @param commands - the commands, each an argument list
 * @returns one reply per command
 * @throws RespError when a command returns an error reply; Error on connection failure or timeout
 */
export function redisCommands(
  target: RespTarget,
  commands: readonly (readonly (string | number)[])[],
): Promise<RespReply[]> {
  const all = target.auth
    ? [
        target.auth.username
          ? ['AUTH', target.auth.username, target.auth.password]
          : ['AUTH', target.auth.password],
        ...commands,
      ]
    : commands
  const skip = target.auth ? 1 : 0
  return new Promise((resolve, reject) => {
    const host = target.host ?? '127.0.0.1'
    const socket: Socket = target.tls
      ? tlsConnect({
          host,
          port: target.port,
          servername: 'localhost',
          ...(target.tls.ca !== undefined ? { ca: target.tls.ca } : {}),
          ...(target.tls.cert !== undefined ? { cert: target.tls.cert } : {}),
          ...(target.tls.key !== undefined ? { key: target.tls.key } : {}),
        })
      : netConnect({ host, port: target.port })
    let buf: Buffer = Buffer.alloc(0)
    const replies: RespReply[] = []
    let settled = false
    const finish = (err: Error | undefined): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      socket.destroy()
      if (err) reject(err)
      else resolve(replies.slice(skip))
    }
    const timer = setTimeout(
      () =>
        finish(new Error(`redis ${host}:${target.port} did not answer within ${target.timeout ?? 2000}ms`)),
      target.timeout ?? 2000,
    )
    socket.once(target.tls ? 'secureConnect' : 'connect', () => {
      socket.write(Buffer.concat(all.map(encode)))
    })
    socket.on('data', (chunk: Buffer) => {
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk
      let pos = 0
      for (;;) {
        let r: [RespReply | RespError, number] | undefined
        try {
          r = parse(buf, pos)
        } catch (e) {
          finish(e as Error)
          return
        }
        if (!r) break
        const [reply, next] = r
        pos = next
        if (reply instanceof RespError) {
          finish(reply)
          return
        }
        replies.push(reply)
        if (replies.length === all.length) {
          finish(undefined)
          return
        }
      }
      buf = buf.subarray(pos)
    })
    socket.on('error', (e) => finish(e))
    socket.on('close', () => finish(new Error(`connection to ${host}:${target.port} closed early`)))
  })
}

/**
 * Sends one command; see {@link redisCommands}.
 *
 * @param target - where to connect
 * @param args - the command and its arguments, for example `['CLUSTER', 'INFO']`
 */
export async function redisCommand(target: RespTarget, ...args: (string | number)[]): Promise<RespReply> {
  const [reply] = await redisCommands(target, [args])
  return reply as RespReply
}
