// Readers for the research traces in ../shared/traces (see its README): each returns the trace's
// keys as an array of strings, in access order.
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'

/** gzip text, lines `start count 0 0`: keys start .. start+count-1 (ARC traces: OLTP, P3). */
export function readArc(file) {
  const text = gunzipSync(readFileSync(file)).toString('latin1')
  const keys = []
  let i = 0
  while (i < text.length) {
    let end = text.indexOf('\n', i)
    if (end < 0) end = text.length
    const line = text.slice(i, end)
    i = end + 1
    const sp = line.indexOf(' ')
    if (sp < 0) continue
    const start = Number(line.slice(0, sp))
    const sp2 = line.indexOf(' ', sp + 1)
    const count = Number(line.slice(sp + 1, sp2 < 0 ? undefined : sp2))
    for (let k = 0; k < count; k++) keys.push(String(start + k))
  }
  return keys
}

/** gzip text, one key per line; lines starting with `*` are markers (LIRS traces). */
export function readLirs(file) {
  const text = gunzipSync(readFileSync(file)).toString('latin1')
  const keys = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line[0] === '*') continue
    keys.push(line)
  }
  return keys
}

/** xz-compressed big-endian integers of `bytes` (4 or 8) each; decoded by the system `xz`. */
export function readXzInts(file, bytes) {
  const r = spawnSync('xz', ['-dc', file], { maxBuffer: 1 << 30 })
  if (r.error) throw new Error(`cannot run xz to read ${file} (install xz-utils): ${r.error.message}`)
  if (r.status !== 0) throw new Error(`xz failed on ${file}: ${r.stderr}`)
  const buf = r.stdout
  const n = Math.floor(buf.length / bytes)
  const keys = new Array(n)
  for (let i = 0; i < n; i++) {
    keys[i] = bytes === 8 ? buf.readBigUInt64BE(i * 8).toString() : String(buf.readUInt32BE(i * 4))
  }
  return keys
}
