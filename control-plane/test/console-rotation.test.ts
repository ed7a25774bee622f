/**
 * The rotation state in the console, in headless Chromium against the real control plane (and node):
 * an analyst requests a rotation from a leak's page, the detail and the list show it, and the issuer's
 * confirmation shows as rotated and closed. Its own file, so the main console file keeps to its time.
 */
import t from 'tap'
import { cpFetch, rawToken, sha256, startConsoleDeployment, waitFor } from './console-harness.js'

const { keys, cp, signedIn } = await startConsoleDeployment(t, { node: true })



t.test('an analyst requests a rotation in the console; the detail and the list show its state until the issuer confirms', async (tt) => {
  const token = rawToken('ghp_')
  const created = await cpFetch<{ id: number }>(cp.url, keys.admin, '/v1/leaks', {
    method: 'POST',
    body: { title: 'Deploy key to rotate', source: 'github', kind: 'github_pat', action: 'block', tokens: [{ sha256: sha256(token) }] },
  })
  tt.equal(created.status, 201)
  const id = created.body.id
  const { page, problems } = await signedIn(tt, keys.analyst)
  await page.goto(`${cp.url}/#/leaks/${id}`)
  await page.getByTestId('leak-detail').waitFor()
  tt.equal(await page.getByTestId('rotation-state').getAttribute('data-rotation'), 'none')
  tt.notOk(await page.getByTestId('request-rotation').isDisabled(), 'an analyst may request it')

  await page.getByTestId('rotation-comment').fill('rotate at GitHub, then confirm')
  await page.getByTestId('request-rotation').click()
  await waitFor('the detail shows the rotation requested', async () => (await page.getByTestId('rotation-state').getAttribute('data-rotation')) === 'requested')
  tt.equal(await page.locator('[data-testid=leak-detail] [data-testid=rotation-badge]').textContent(), 'Rotation requested', 'a badge beside the status')
  tt.ok(await page.getByTestId('request-rotation').isDisabled(), 'requested: the button is done')
  tt.match(await page.locator('[data-testid=leak-detail] .status').innerText(), /Open/, 'the leak stays open')
  const entry = page.getByTestId('audit-entry').first()
  tt.match(await entry.innerText(), /rotation none → requested/)
  tt.match(await entry.innerText(), /rotate at GitHub, then confirm/)

  await page.goto(`${cp.url}/#/?q=${encodeURIComponent('Deploy key to rotate')}`)
  await waitFor('the list row', async () => (await page.getByTestId('leak-row').count()) === 1)
  tt.equal(await page.getByTestId('leak-row').getByTestId('rotation-badge').getAttribute('data-rotation'), 'requested', 'the list shows it too')

  // The issuer's confirmation (an admin key may give it as well) closes the leak.
  tt.equal((await cpFetch(cp.url, keys.admin, `/v1/leaks/${id}/rotated`, { method: 'POST', body: { comment: 'rotated' } })).status, 200)
  await page.goto(`${cp.url}/#/leaks/${id}`)
  await waitFor('the detail shows it rotated', async () => (await page.getByTestId('rotation-state').getAttribute('data-rotation')) === 'rotated')
  tt.match(await page.locator('[data-testid=leak-detail] .status').innerText(), /Closed/)
  tt.ok(await page.getByTestId('request-rotation').isDisabled(), 'a closed leak cannot be asked again')
  tt.same(problems, [])
})
