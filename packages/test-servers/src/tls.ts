import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { trackDir } from './reaper.js'

const exec = promisify(execFile)

/** A certificate authority plus a server and a client certificate signed by it, as files and PEM text. */
export interface TlsCertificates {
  /** Directory holding the files. */
  readonly dir: string
  /** Path of the CA certificate (PEM). */
  readonly caFile: string
  /** Path of the server certificate (PEM), valid for `localhost` and `127.0.0.1`. */
  readonly certFile: string
  /** Path of the server private key (PEM). */
  readonly keyFile: string
  /** Path of the client certificate (PEM), for servers that require client certificates. */
  readonly clientCertFile: string
  /** Path of the client private key (PEM). */
  readonly clientKeyFile: string
  /** The CA certificate (PEM text): pass it as `tls.ca` to trust the server. */
  readonly ca: string
  /** The server certificate (PEM text). */
  readonly cert: string
  /** The server private key (PEM text). */
  readonly key: string
  /** The client certificate (PEM text): pass it as `tls.cert`. */
  readonly clientCert: string
  /** The client private key (PEM text): pass it as `tls.key`. */
  readonly clientKey: string
}

async function openssl(cwd: string, args: string[]): Promise<void> {
  try {
    await exec('openssl', args, { cwd })
  } catch (e) {
    const err = e as { stderr?: string; message: string }
    throw new Error(`openssl ${args[0]} failed: ${err.stderr || err.message}`)
  }
}

/**
 * Makes a fresh CA and a server and client certificate signed by it with `openssl` (P-256 keys,
 * valid for two days, server names `localhost` and `127.0.0.1`). Each call makes an
 * independent CA, so two calls give you a "wrong CA" to test failed verification.
 *
 * @param dir - where to write the files; a new directory under `os.tmpdir()` when omitted
 *   (removed when the process exits)
 * @returns the file paths and the PEM texts
 * @example
 * ```ts
 * const certs = await makeTlsCertificates()
 * const server = await startRedis({ tls: { certificates: certs } })
 * const client = new Redis(server.url, { tls: { ca: certs.ca } })
 * ```
 */
export async function makeTlsCertificates(dir?: string): Promise<TlsCertificates> {
  const out = dir ?? mkdtempSync(join(tmpdir(), 'tiercache-tls-'))
  if (!dir) trackDir(out)
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes']
  await openssl(out, [
    'req',
    '-x509',
    ...key,
    '-keyout',
    'ca.key',
    '-out',
    'ca.crt',
    '-days',
    '2',
    '-subj',
    '/CN=tiercache test CA',
  ])
  writeFileSync(
    join(out, 'server.ext'),
    'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  )
  writeFileSync(join(out, 'client.ext'), 'extendedKeyUsage=clientAuth\n')
  const sign = async (name: string, cn: string): Promise<void> => {
    await openssl(out, [
      'req',
      '-new',
      ...key,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${cn}`,
    ])
    await openssl(out, [
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.crt',
      '-CAkey',
      'ca.key',
      '-set_serial',
      String(Date.now() + (name === 'server' ? 1 : 2)),
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    ])
  }
  await Promise.all([sign('server', 'localhost'), sign('client', 'tiercache test client')])
  const file = (name: string): string => join(out, name)
  const read = (name: string): string => readFileSync(file(name), 'utf8')
  return {
    dir: out,
    caFile: file('ca.crt'),
    certFile: file('server.crt'),
    keyFile: file('server.key'),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    ca: read('ca.crt'),
    cert: read('server.crt'),
    key: read('server.key'),
    clientCert: read('client.crt'),
    clientKey: read('client.key'),
  }
}
