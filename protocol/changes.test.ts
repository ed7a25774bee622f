import t from 'tap'
import { isChangesFrame, validateChanges } from './changes.js'
import { sha256Hex } from './token-hash.js'

const upsert = { rev: 6, op: 'upsert', sha256: sha256Hex('a'), action: 'monitor', leakId: 2 }
const del = { rev: 7, op: 'delete', sha256: sha256Hex('b') }

t.test('a good batch is decoded in order', async (t) => {
  const valid = validateChanges([upsert, del])
  t.same(valid.map((c) => [c.rev, c.op, c.digest.toString('hex'), c.action, c.leakId]), [
    [6, 'upsert', sha256Hex('a'), 'monitor', 2],
    [7, 'delete', sha256Hex('b'), 'block', 0],
  ])
})

t.test('fields a newer control plane adds are ignored, not refused', async (t) => {
  t.equal(validateChanges([{ ...upsert, reason: 'decision 9' }, { ...del, at: '2026-12-01T00:00:00Z' }]).length, 2)
  t.ok(isChangesFrame({ revision: 7, changes: [], next: '/v1/sync/changes?since=7' }))
})

t.test('a bad change is refused with a message naming it and the field', async (t) => {
  const cases: Array<[unknown, RegExp]> = [
    [{ ...upsert, sha256: sha256Hex('a').toUpperCase() }, /change 1: sha256 must match pattern/],
    [{ ...upsert, action: 'allow' }, /change 1: action must be equal to one of the allowed values \("block", "monitor"\)/],
    [{ ...upsert, leakId: 2 ** 31 }, /change 1: leakId must be <= 2147483647/],
    [{ rev: 8, op: 'upsert', sha256: sha256Hex('c'), action: 'block' }, /change 1: must have required property 'leakId'/],
    [{ ...del, op: 'purge' }, /change 1: op must be "upsert" or "delete"/],
    [{ ...del, rev: 6 }, /change 1: revisions must rise \(rev 6 after 6\)/],
    [{ ...del, rev: 1.5 }, /change 1: rev must be integer/],
    ['delete', /change 1 is not an object/],
  ]
  for (const [bad, message] of cases) {
    t.throws(() => validateChanges([upsert, bad]), { code: 'LEAKGATE_ERR_CHANGE_INVALID', message }, JSON.stringify(bad))
  }
})

t.test('an answer without a revision or a list of changes is not a changes answer', async (t) => {
  for (const body of [null, [], {}, { revision: 3 }, { changes: [] }, { revision: -1, changes: [] }, { revision: '3', changes: [] }, { revision: 3, changes: {} }]) {
    t.notOk(isChangesFrame(body), JSON.stringify(body))
  }
})
