/**
 * Security regression: a scan of a git URL carrying credentials (`https://user:token@host/repo.git`)
 * was accepted, so the URL, token included, was kept with the scan's record and could reach the logs.
 * Such a URL is now refused with a 400 that does not echo it, and the credential lands in no database file
 * and no log line. Real control plane, real SQLite file.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { startPlane } from './harness.js'

t.test('a git URL with credentials is refused and stored nowhere', async (t) => {
  const plane = await startPlane(t)
  const secret = 'ghp_urlCredentialRegression00000000000000'
  const res = await plane.call('POST', '/v1/scans', plane.keys.admin, { source: { type: 'git', url: `https://bob:${secret}@example.invalid/x.git` } })
  t.equal(res.statusCode, 400)
  t.equal(res.json().code, 'LEAKGATE_ERR_BAD_REQUEST')
  t.notOk(res.body.includes(secret))
  for (const f of readdirSync(plane.dir).filter((n) => n.includes('.db') || n.includes('sqlite'))) {
    t.notOk(readFileSync(join(plane.dir, f)).includes(secret), `${f} holds no credential`)
  }
  t.notOk(plane.logs.some((l) => l.includes(secret)), 'no log line holds it')
})
