/**
 * What a scan may reach: the address ranges refused by default (IPv4, IPv6 and the IPv6 forms that
 * carry an IPv4 address), allowedHosts entries that name a host or a range, allowed local paths
 * (symbolic links resolved; a missing path and a forbidden one fail alike), and credentials in
 * every URL spelling.
 */
import t from 'tap'
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkLocalPath, checkRemote, isPublicAddress, PATH_REFUSED, REMOTE_REFUSED, redactText, redactUrl, urlHasCredential } from './reach.js'
import { tempDir } from '../test/helpers.js'

t.test('loopback, private, link-local, CGNAT, multicast, unspecified and their IPv6 forms are not public', async (t) => {
  const refused = ['127.0.0.1', '127.1.2.3', '10.0.0.1', '172.16.5.5', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '100.127.255.255',
    '0.0.0.0', '224.0.0.1', '239.255.255.250', '255.255.255.255', '198.18.0.1',
    '::', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::ffff:169.254.169.254', '64:ff9b::a9fe:a9fe', '2002:7f00:1::1',
    'fe80::1', 'fc00::1', 'fd12:3456::1', 'ff02::1', '::127.0.0.1']
  for (const a of refused) t.notOk(isPublicAddress(a), a)
  for (const a of ['1.1.1.1', '140.82.112.3', '172.32.0.1', '100.128.0.1', '2606:4700:4700::1111', '::ffff:1.1.1.1', '2a00:1450:4001::200e']) t.ok(isPublicAddress(a), a)
  t.notOk(isPublicAddress('not-an-address'))
})

t.test('a remote is resolved and checked before anything connects; listed addresses and ranges are allowed', async (t) => {
  const publicOnly = { allowedHosts: ['*'] }
  for (const url of ['http://127.0.0.1:9/x.git', 'http://localhost:9/x.git', 'http://[::1]:9/x.git', 'http://[::ffff:127.0.0.1]:9/x.git', 'http://2130706433:9/x.git',
    'http://0x7f.1:9/x.git', 'git://127.0.0.1/x.git', 'git://2130706433/x.git', 'http://169.254.169.254/latest', 'ssh://example.com/x.git', 'ftp://example.com/x', 'http://no-such-host.invalid/x.git']) {
    await t.rejects(checkRemote(url, publicOnly), { code: 'LEAKGATE_ERR_SCAN_SOURCE', message: new RegExp(REMOTE_REFUSED.replace(/[()]/g, '\\$&')) }, url)
  }
  t.same(await checkRemote('http://127.0.0.1:8123/x.git', { allowedHosts: ['127.0.0.1'] }), { host: '127.0.0.1', port: 8123, addresses: ['127.0.0.1'] })
  t.same((await checkRemote('http://localhost/x.git', { allowedHosts: ['127.0.0.0/8', '::1'] }))?.port, 80)
  await t.rejects(checkRemote('http://127.0.0.1/x.git', { allowedHosts: ['example.com'] }), 'not listed')
  await t.rejects(checkRemote('https://1.1.1.1/x.git', { allowedHosts: ['*.example.com'] }), 'a pattern that does not match')
  t.same(await checkRemote('https://1.1.1.1/x.git', { allowedHosts: ['*'] }), { host: '1.1.1.1', port: 443, addresses: ['1.1.1.1'] })
  t.equal(await checkRemote('http://127.0.0.1/x.git', undefined), undefined, 'no policy: the CLI reaches anything')
})

t.test('a local path must lie under an allowed folder, symbolic links resolved; missing and forbidden fail alike', async (t) => {
  const root = tempDir(t, 'leakgate-reach-')
  const allowed = join(root, 'allowed')
  mkdirSync(join(allowed, 'repo'), { recursive: true })
  writeFileSync(join(allowed, 'repo', 'a.txt'), 'a\n')
  symlinkSync('/etc', join(allowed, 'etc-link'))
  const policy = { allowedPaths: [allowed] }
  t.equal(await checkLocalPath(join(allowed, 'repo'), policy), join(allowed, 'repo'))
  const errors: string[] = []
  for (const p of ['/etc', join(allowed, 'etc-link'), join(allowed, 'etc-link', 'passwd'), join(allowed, 'missing'), join(allowed, '..', 'x'), '/nonexistent']) {
    await checkLocalPath(p, policy).then(() => t.fail(`${p} allowed`), (err: Error) => errors.push(err.message))
  }
  t.ok(errors.every((m) => m === errors[0] && m.includes(PATH_REFUSED)), 'one message for every refusal')
  await t.rejects(checkLocalPath('/etc', { allowedPaths: [] }), 'no allowed path: none at all')
})

t.test('credentials in every URL spelling are found, and hidden in text', async (t) => {
  for (const url of ['https://bob:tok@example.com/x.git', 'https://tok@example.com/x.git', 'git://tok@example.com/x.git', 'https://example.com/x.git?private_token=abc',
    'https://example.com/x.git?a=1&access_token=abc', 'https://example.com/x.git?token=abc', 'https://example.com/x.git?PRIVATE%5FTOKEN=abc', 'bob:secret@example.com:acme/x.git',
    'https://example.com/x.git#access_token=abc', 'https://example.com/x.git;token=abc', 'https://example.com/x.git?Access-Token=abc', 'https://example.com/x.git?x=1#id_token=abc']) {
    t.ok(urlHasCredential(url), url)
  }
  for (const url of ['https://example.com/x.git', 'https://example.com/x.git?ref=main', 'git@example.com:acme/x.git', '/srv/repo', 'https://example.com/a;b/x.git', 'https://example.com/x.git#readme']) t.notOk(urlHasCredential(url), url)
  t.equal(redactUrl('https://example.com/x.git?private_token=abc'), 'https://example.com/x.git')
  t.equal(redactUrl('bob:secret@example.com:acme/x.git'), '***@example.com:acme/x.git')
  t.equal(redactText("fatal: unable to access 'https://u:p@h.example/x.git?token=abc/': error"), "fatal: unable to access 'https://***@h.example/x.git?***': error")
})
