/**
 * The console's Webhooks page in headless Chromium against the real control plane, with a real
 * receiver on loopback that verifies each delivery's signature.
 */
import t from 'tap'
import { cpFetch, rawToken, sha256, startConsoleDeployment, waitFor } from './console-harness.js'
import { startReceiver } from './webhook-receiver.js'

const { stack, keys, cp, signedIn } = await startConsoleDeployment(t)



t.test('an admin adds a webhook, sees its secret once, rotates it, and redelivers a delivery', async (tt) => {
  const receiver = await startReceiver(stack)
  const { page, problems } = await signedIn(tt, keys.admin)
  await page.getByRole('link', { name: 'Webhooks' }).click()
  await page.getByTestId('webhook-url').fill(receiver.url)
  await page.getByTestId('webhook-description').fill('console test')
  await page.getByTestId('webhook-submit').click()
  const secret = await page.getByTestId('webhook-secret').innerText()
  tt.match(secret, /^whsec_/, 'the secret is shown')
  receiver.secrets.push(secret)
  await page.getByTestId('webhook-row').first().waitFor()
  await page.reload()
  await page.getByTestId('webhook-row').first().waitFor()
  tt.notOk((await page.content()).includes(secret), 'and not shown again')

  await page.getByTestId('webhook-rotate').first().click()
  await waitFor('the new secret', async () => (await page.getByTestId('webhook-secret').innerText()) !== secret)
  const rotated = await page.getByTestId('webhook-secret').innerText()
  tt.match(rotated, /^whsec_/)
  receiver.secrets.splice(0, 1, rotated)

  const leak = await cpFetch(cp.url, keys.admin, '/v1/leaks', { method: 'POST', body: { title: 'Webhook console test', tokens: [{ sha256: sha256(rawToken('wh_')) }] } })
  tt.equal(leak.status, 201)
  await waitFor('the delivery received', () => receiver.accepted().length === 1)
  await page.getByTestId('webhook-show-deliveries').first().click()
  const row = page.locator('[data-testid=delivery-row][data-status=delivered]')
  await row.first().waitFor()
  tt.match(await row.first().innerText(), /leak\.created/)
  await page.getByTestId('delivery-redeliver').first().click()
  await waitFor('the redelivery received', () => receiver.accepted().length === 2)
  tt.equal(receiver.accepted()[1]?.id, receiver.accepted()[0]?.id, 'the same event sent again')

  // An analyst has no Webhooks page in the menu, and is told why when going there.
  const analyst = await signedIn(tt, keys.analyst)
  tt.equal(await analyst.page.getByRole('link', { name: 'Webhooks' }).count(), 0)
  await analyst.page.goto(`${cp.url}/#/webhooks`)
  await analyst.page.getByTestId('webhooks-admin-only').waitFor()
  tt.same([...problems, ...analyst.problems], [])
})
