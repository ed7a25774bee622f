import t from 'tap'
import { parseSnapshotLocation, snapshotDigest, snapshotLocation, snapshotPath } from './snapshot-url.js'
import { golden } from './test/snapshots.js'

const digest = 'a8bb88d5b86a416009c4a51b8ade9adc'

t.test('the redirect names the revision and digest, relative to the snapshot route, under any path prefix', async (t) => {
  t.equal(snapshotLocation(42, digest), `snapshot/42?digest=${digest}`)
  t.equal(snapshotPath(42, digest), `/v1/sync/snapshot/42?digest=${digest}`)
  t.same(parseSnapshotLocation(snapshotLocation(42, digest), 'http://cp:8080/v1/sync/snapshot'), { revision: 42, digest })
  t.same(parseSnapshotLocation(snapshotLocation(7, digest), 'https://gw.example/leakgate/v1/sync/snapshot'), { revision: 7, digest }, 'a path prefix is kept')
  t.same(parseSnapshotLocation(`http://cp:8080/v1/sync/snapshot/3?digest=${digest}`, 'http://cp:8080/v1/sync/snapshot'), { revision: 3, digest }, 'absolute, same origin')
})

t.test('a redirect anywhere else is not followed: the node would send its key there', async (t) => {
  const from = 'http://cp:8080/v1/sync/snapshot'
  for (const location of [
    `http://evil.example/v1/sync/snapshot/3?digest=${digest}`,
    `//evil.example/v1/sync/snapshot/3?digest=${digest}`,
    `https://cp:8080/v1/sync/snapshot/3?digest=${digest}`,
    `/v1/leaks/3?digest=${digest}`,
    `snapshot/3`,
    `snapshot/3?digest=${digest.toUpperCase()}`,
    `snapshot/-3?digest=${digest}`,
    `snapshot/99999999999999999?digest=${digest}`,
    'http://[::1',
  ]) {
    t.equal(parseSnapshotLocation(location, from), undefined, location)
  }
})

t.test('the digest is the start of the snapshot\'s own checksum', async (t) => {
  t.equal(snapshotDigest(golden), golden.subarray(-32, -16).toString('hex'))
  t.equal(snapshotDigest(Buffer.alloc(10)), undefined)
})
