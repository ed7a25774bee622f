/**
 * The console's Keys page in headless Chromium against the real control plane: an admin makes a key
 * (shown once, copied), the key works, the admin revokes it and it gets 401; rotation shows the new
 * key once. An analyst has no Keys page.
 */
import t from 'tap'
import { cpFetch, openPage, signIn, startConsoleDeployment, waitFor } from './console-harness.js'

const { keys, cp, browser, signedIn } = await startConsoleDeployment(t)

t.test('an admin creates a key, copies it, revokes it, and the key then gets 401', async (tt) => {
  const { page, problems } = await openPage(browser, tt)
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: cp.url })
  await signIn(page, cp.url, keys.admin)
  await page.getByRole('link', { name: 'Keys' }).click()
  await page.getByTestId('key-role').selectOption('analyst')
  await page.getByTestId('key-name').fill('dashboards')
  await page.getByTestId('key-owner').fill('carol@example.com')
  await page.getByTestId('key-expiry').selectOption('90')
  await page.getByTestId('key-submit').click()
  const key = await page.getByTestId('key-secret').innerText()
  tt.match(key, /^lgk_[0-9A-Za-z]{40}$/, 'the key is shown')
  await page.getByTestId('key-copy').click()
  await waitFor('the key on the clipboard', async () => (await page.evaluate(() => navigator.clipboard.readText())) === key)
  tt.pass('the copy button copies it')
  tt.equal((await cpFetch(cp.url, key, '/v1/leaks')).status, 200, 'the new key works')

  const me = await cpFetch<{ keyId: string }>(cp.url, key, '/v1/me')
  const row = page.locator(`[data-testid=key-row][data-key-id=${me.body.keyId}]`)
  await row.waitFor()
  tt.match(await row.innerText(), /dashboards[^]*carol@example\.com[^]*analyst[^]*active/i, 'listed with its name, owner, role and state')
  await page.reload()
  await row.waitFor()
  tt.notOk((await page.content()).includes(key), 'and not shown again')

  await row.getByTestId('key-revoke').click()
  await row.getByTestId('key-revoke-cancel').click()
  tt.equal((await cpFetch(cp.url, key, '/v1/leaks')).status, 200, 'cancelled: the key still works')
  await row.getByTestId('key-revoke').click()
  await row.getByTestId('key-revoke-confirm').click()
  await page.locator(`[data-testid=key-row][data-key-id=${me.body.keyId}][data-state=revoked]`).waitFor()
  const refused = await cpFetch<{ detail: string }>(cp.url, key, '/v1/leaks')
  tt.equal(refused.status, 401, 'the revoked key gets 401')
  tt.match(refused.body.detail, /was revoked at/)
  tt.same(problems, [])
})

t.test('an admin rotates a key: the new key is shown once and works, the old one stops', async (tt) => {
  const made = await cpFetch<{ key: string; keyId: string }>(cp.url, keys.admin, '/v1/keys', { method: 'POST', body: { role: 'node', name: 'edge-9' } })
  tt.equal(made.status, 201)
  // The browser logs the refused revocation below (409) as a failed load: that one is expected.
  const { page, problems } = await signedIn(tt, keys.admin, { expected: /status of 409/ })
  await page.goto(`${cp.url}/#/keys`)
  const row = page.locator(`[data-testid=key-row][data-key-id=${made.body.keyId}]`)
  await row.getByTestId('key-rotate').click()
  await page.getByTestId('key-secret').waitFor()
  const rotated = await page.getByTestId('key-secret').innerText()
  tt.match(rotated, /^lgk_/)
  tt.not(rotated, made.body.key)
  await page.locator(`[data-testid=key-row][data-key-id=${made.body.keyId}][data-state=revoked]`).waitFor()
  tt.equal((await cpFetch(cp.url, made.body.key, '/v1/sync/snapshot')).status, 401, 'the old key stopped')
  tt.equal((await cpFetch(cp.url, rotated, '/v1/me')).status, 200, 'the new one works')

  // The last admin key that works cannot be revoked: the page says why.
  const adminId = (await cpFetch<{ keyId: string }>(cp.url, keys.admin, '/v1/me')).body.keyId
  const own = page.locator(`[data-testid=key-row][data-key-id=${adminId}]`)
  await own.getByTestId('key-revoke').click()
  await own.getByTestId('key-revoke-confirm').click()
  await page.getByTestId('key-error').waitFor()
  tt.match(await page.getByTestId('key-error').innerText(), /last admin key/)
  tt.same(problems, [], 'the 409 is shown, nothing thrown')
})

t.test('the Keys page fits a phone, long names and owners included', async (tt) => {
  await cpFetch(cp.url, keys.admin, '/v1/keys', { method: 'POST', body: { role: 'node', name: 'edge-eu-west-1-production-cluster-a', owner: 'a.very.long.name.of.an.operator@example-company.example' } })
  const { page, problems } = await openPage(browser, tt)
  await page.setViewportSize({ width: 390, height: 844 })
  await signIn(page, cp.url, keys.admin)
  await page.goto(`${cp.url}/#/keys`)
  await page.getByTestId('key-submit').click()
  await page.getByTestId('key-secret').waitFor()
  await page.getByTestId('key-row').first().waitFor()
  await page.getByTestId('key-revoke').first().click()
  tt.equal(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth), 0, 'nothing wider than the screen')
  tt.same(problems, [])
})

t.test('an analyst has no Keys page', async (tt) => {
  const { page, problems } = await signedIn(tt, keys.analyst)
  tt.equal(await page.getByRole('link', { name: 'Keys' }).count(), 0)
  await page.goto(`${cp.url}/#/keys`)
  await page.getByTestId('keys-admin-only').waitFor()
  tt.same(problems, [])
})
