/**
 * What a scan may reach: which local paths and which remote hosts. The control plane scans on
 * behalf of API callers, so by default it reads no local path and connects to public addresses
 * only; `leakgate scan` at a terminal passes no policy and reaches what its user can.
 *
 * A remote host is resolved before anything connects, and every address it resolves to is
 * checked: loopback, link-local, private, CGNAT, multicast, unspecified and reserved ranges, and
 * the IPv6 forms that embed such an IPv4 address, are refused unless an `allowedHosts` entry names
 * the address or its range. The addresses checked are handed to git (`http.curloptResolve`), so
 * an http(s) clone connects to them and not to whatever a second lookup answers. git's own
 * protocol (`git://`) cannot be pinned: a name that resolves differently between the check and
 * git's connection (DNS rebinding) remains a risk there; list the hosts in `allowedHosts`, or
 * allow only https, where that matters.
 */
import { lookup } from 'node:dns/promises'
import { realpath } from 'node:fs/promises'
import { isIP } from 'node:net'
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { SourceError } from '../../../lib/errors.js'

/** Where a scan may read and connect. Undefined fields place no limit (the CLI). */
export interface ReachPolicy {
  /** Local folders whose contents may be scanned (files, directories, repositories). */
  allowedPaths?: readonly string[]
  /**
   * Remote hosts: `*` (any host with public addresses only), a name, `*.example.com`, an IP
   * address or a CIDR range (`10.1.0.0/16`). An address or range listed here is allowed even if
   * private: that is how an internal git server is named.
   */
  allowedHosts?: readonly string[]
}

/** The one message for a local path that is missing or not allowed: the answer must not tell which. */
export const PATH_REFUSED = 'the path does not exist or is not allowed (scan.allowedPaths)'
/** The one message for a remote that is refused, unreachable, or not a repository. */
export const REMOTE_REFUSED = 'the repository cannot be reached, is not a repository, or its host is not allowed (scan.allowedHosts)'

/** Whether `path` lies inside `folder` (both absolute and normalised). */
function inside(folder: string, path: string): boolean {
  const rel = relative(folder, path)
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel) && rel.split(sep)[0] !== '..')
}

/** The static check: `path`, normalised, lies under an allowed folder. Nothing is read. */
export function pathAllowed(path: string, policy: ReachPolicy | undefined): boolean {
  if (policy?.allowedPaths === undefined) return true
  const abs = resolve(path)
  return policy.allowedPaths.some((folder) => inside(resolve(folder), abs))
}

/**
 * The check made when a scan starts: the path's real location (symbolic links resolved) lies
 * under an allowed folder's real location. Missing and forbidden paths fail alike.
 * @returns the real path to scan.
 */
export async function checkLocalPath(path: string, policy: ReachPolicy | undefined): Promise<string> {
  if (policy?.allowedPaths === undefined) return path
  if (!pathAllowed(path, policy)) throw new SourceError(PATH_REFUSED)
  let real: string
  try {
    real = await realpath(path)
  } catch {
    throw new SourceError(PATH_REFUSED)
  }
  for (const folder of policy.allowedPaths) {
    let root: string
    try {
      root = await realpath(folder)
    } catch {
      continue
    }
    if (inside(root, real)) return real
  }
  throw new SourceError(PATH_REFUSED)
}

/** IPv4 ranges no scan connects to unless listed: [first octets as a number, prefix length]. */
const V4_REFUSED: ReadonlyArray<readonly [string, number]> = [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
]

/** An address as bytes (4 or 16), or undefined if it is not one. */
function addressBytes(address: string): number[] | undefined {
  const kind = isIP(address)
  if (kind === 4) return address.split('.').map(Number)
  if (kind !== 6) return undefined
  let text = address.replace(/%.*$/, '')
  // A trailing dotted IPv4 (::ffff:1.2.3.4) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (dotted !== null) {
    const [a, b, c, d] = dotted[1]!.split('.').map(Number) as [number, number, number, number]
    text = text.slice(0, dotted.index) + `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head, tail] = text.includes('::') ? text.split('::') as [string, string] : [text, undefined]
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)))
  const front = groups(head)
  const back = tail === undefined ? [] : groups(tail)
  const all = [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back]
  return all.flatMap((g) => [g >> 8, g & 0xff])
}

function inRange(bytes: readonly number[], base: readonly number[], prefix: number): boolean {
  if (bytes.length !== base.length) return false
  for (let bit = 0; bit < prefix; bit++) {
    const i = bit >> 3
    const mask = 0x80 >> (bit & 7)
    if (((bytes[i] ?? 0) & mask) !== ((base[i] ?? 0) & mask)) return false
  }
  return true
}

/** Whether an address is public: not loopback, private, link-local, CGNAT, multicast, reserved, nor an IPv6 form of one. */
export function isPublicAddress(address: string): boolean {
  const b = addressBytes(address)
  if (b === undefined) return false
  if (b.length === 4) return !V4_REFUSED.some(([base, prefix]) => inRange(b, addressBytes(base)!, prefix))
  const v4 = (from: number): string => b.slice(from, from + 4).join('.')
  // IPv4-mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::a.b.c.d) and 6to4 (2002:AABB:CCDD::) carry an IPv4 address.
  if (inRange(b, addressBytes('::ffff:0:0')!, 96)) return isPublicAddress(v4(12))
  if (inRange(b, addressBytes('64:ff9b::')!, 96)) return isPublicAddress(v4(12))
  if (inRange(b, addressBytes('2002::')!, 16)) return isPublicAddress(v4(2))
  const refused: ReadonlyArray<readonly [string, number]> = [
    ['::', 96], // unspecified, loopback and the old IPv4-compatible form
    ['100::', 64], ['2001::', 32], ['2001:db8::', 32], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
  ]
  return !refused.some(([base, prefix]) => inRange(b, addressBytes(base)!, prefix))
}

/** Whether an `allowedHosts` entry that is an address or a CIDR range covers `address`. */
function listedAddress(entry: string, address: string): boolean {
  const [base, bits] = entry.split('/')
  const baseBytes = addressBytes((base ?? '').replace(/^\[|\]$/g, ''))
  const bytes = addressBytes(address)
  if (baseBytes === undefined || bytes === undefined) return false
  const prefix = bits === undefined ? baseBytes.length * 8 : Number(bits)
  if (!Number.isInteger(prefix)) return false
  return inRange(bytes, baseBytes, prefix)
}

function nameListed(entry: string, host: string): boolean {
  const e = entry.toLowerCase()
  if (e === '*') return true
  if (e.startsWith('*.')) return host.endsWith(e.slice(1))
  return e === host
}

/** A remote checked and resolved: the addresses git is to connect to. */
export interface CheckedRemote {
  host: string
  port: number
  addresses: string[]
}

/** The transports a scan uses; `file` only for local repositories that are allowed. */
export const REMOTE_PROTOCOLS = ['https:', 'http:', 'git:'] as const
const DEFAULT_PORTS: Record<string, number> = { 'https:': 443, 'http:': 80, 'git:': 9418 }

/**
 * Checks a remote repository URL against the policy: an allowed transport, an allowed host, and
 * every address the host resolves to public or listed. Resolves the host once, here.
 * @throws SourceError with the one message that does not tell a refused host from an unreachable one.
 */
export async function checkRemote(url: string, policy: ReachPolicy | undefined): Promise<CheckedRemote | undefined> {
  if (policy?.allowedHosts === undefined) return undefined
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new SourceError(REMOTE_REFUSED)
  }
  if (!(REMOTE_PROTOCOLS as readonly string[]).includes(parsed.protocol) || parsed.hostname === '') throw new SourceError(REMOTE_REFUSED)
  const host = parsed.hostname.replace(/^\[|\]$/g, '').toLowerCase().replace(/\.$/, '')
  let addresses: string[]
  try {
    addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address)
  } catch {
    throw new SourceError(REMOTE_REFUSED)
  }
  const entries = policy.allowedHosts
  const byAddress = (a: string): boolean => entries.some((e) => listedAddress(e, a))
  const hostOk = entries.some((e) => nameListed(e, host)) || (addresses.length > 0 && addresses.every(byAddress))
  if (!hostOk || addresses.length === 0 || !addresses.every((a) => isPublicAddress(a) || byAddress(a))) throw new SourceError(REMOTE_REFUSED)
  return { host, port: parsed.port === '' ? DEFAULT_PORTS[parsed.protocol] ?? 443 : Number(parsed.port), addresses }
}

/**
 * Names of parameters that carry a credential in the URLs of GitLab, Gitea, Bitbucket, signed URLs and
 * OAuth redirects, compared lowercased without `-`, `_` and `.` (`private_token`, `Access-Token`).
 */
const CREDENTIAL_PARAMS = /^(?:privatetoken|accesstoken|xaccesstoken|token|authtoken|oauthtoken|idtoken|refreshtoken|sessiontoken|jobtoken|apikey|key|password|passwd|pass|pwd|secret|clientsecret|auth|credentials?|sig|signature|bearer)$/

/** The path of a `file://` URL, or undefined for one that names a host or does not parse. */
export function fileUrlPath(url: string): string | undefined {
  try {
    const u = new URL(url)
    return u.hostname === '' || u.hostname === 'localhost' ? decodeURIComponent(u.pathname) : undefined
  } catch {
    return undefined
  }
}

/**
 * The local path a git source names: the path itself, or a `file://` URL's; undefined for a remote URL
 * (or a `file://` URL naming a host, or one that does not parse).
 */
export function localPathOf(url: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(url)?.[1]?.toLowerCase()
  if (scheme === undefined) return url
  return scheme === 'file' ? fileUrlPath(url) : undefined
}

/**
 * Whether a URL carries a credential in any spelling: user-info (`https://user:token@host`, `git://token@host`),
 * a credential parameter in the query, the fragment or the path (`?private_token=`, `#access_token=`,
 * `;token=`), or scp-style `user:pass@host:path`.
 */
export function urlHasCredential(url: string): boolean {
  if (/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*@/i.test(url)) return true
  // scp-style: [user[:password]@]host:path, with a password.
  if (/^[^/:@]+:[^/@]*@[^/:]+:/.test(url)) return true
  // Parameters in the query, the fragment (OAuth's `#access_token=`) or the path (`;token=`).
  const start = url.search(/[?#;]/)
  if (start >= 0) {
    for (const part of url.slice(start + 1).split(/[&;#?]/)) {
      const name = decodeSafe(part.split('=')[0] ?? '').toLowerCase().replace(/[-_.]/g, '')
      if (CREDENTIAL_PARAMS.test(name)) return true
    }
  }
  return false
}

function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '))
  } catch {
    return s
  }
}

/** A URL with any credential removed, for logs and messages: user-info, query and fragment go. */
export function redactUrl(url: string): string {
  return url
    .replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@')
    .replace(/^[^/:@]+(?::[^/@]*)?@([^/:]+:)/, '***@$1')
    .replace(/[?#].*$/s, '')
}

/** Text (git's stderr) with every URL's user-info and query string hidden, wherever they appear. */
export function redactText(text: string): string {
  return text
    .replace(/([a-z][a-z0-9+.-]*:\/\/)[^@\s/?#'"]*@/gi, '$1***@')
    .replace(/(:\/\/[^\s'"]*?)\?[^\s'"]*/g, '$1?***')
}
