/**
 * The console in headless Chromium against the real control plane: a second tab opened from a signed-in
 * one is signed in too (the key passes between the tabs, never to storage beyond them), signing out in
 * one tab signs out the others, and an analyst is not offered "Add leak", which only admins can do.
 */
import t from 'tap'
import { signIn, startConsoleDeployment } from './console-harness.js'

const { keys, cp, browser } = await startConsoleDeployment(t)

t.test('a new tab of a signed-in console is signed in; signing out in one tab signs out the other', async (tt) => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
  tt.teardown(() => context.close())
  const first = await context.newPage()
  await signIn(first, cp.url, keys.admin)

  const second = await context.newPage()
  await second.goto(`${cp.url}/#/nodes`)
  await second.getByTestId('whoami').waitFor()
  tt.equal(await second.getByTestId('role').textContent(), 'admin', 'signed in with the first tab\'s key')
  tt.equal(new URL(second.url()).hash, '#/nodes', 'on the page it was opened at')

  await second.getByTestId('signout').click()
  await second.getByTestId('signin-form').waitFor()
  await first.getByTestId('signin-form').waitFor()
  tt.match(await first.getByTestId('signin-form').innerText(), /Signed out in another tab/)
  tt.equal(await first.evaluate(() => sessionStorage.length), 0, 'the first tab forgot the key too')

  const third = await context.newPage()
  await third.goto(`${cp.url}/`)
  await third.getByTestId('signin-form').waitFor()
  tt.pass('with no tab signed in, a new tab asks for a key')
})

t.test('a tab of another browser profile is not signed in by this one', async (tt) => {
  const mine = await browser.newContext()
  const theirs = await browser.newContext()
  tt.teardown(async () => Promise.all([mine.close(), theirs.close()]))
  const page = await mine.newPage()
  await signIn(page, cp.url, keys.admin)
  const other = await theirs.newPage()
  await other.goto(`${cp.url}/`)
  await other.getByTestId('signin-form').waitFor()
  tt.equal(await other.evaluate(() => sessionStorage.length), 0)
})

t.test('an analyst is not offered "Add leak"; an admin is', async (tt) => {
  for (const [role, key, offered] of [['analyst', keys.analyst, false], ['admin', keys.admin, true]] as const) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } })
    tt.teardown(() => context.close())
    const page = await context.newPage()
    await signIn(page, cp.url, key)
    await page.getByTestId('leak-list').waitFor()
    tt.equal(await page.getByTestId('add-leak-link').count(), offered ? 1 : 0, `${role}: the overview's button`)
    tt.equal(await page.getByRole('link', { name: 'Add leak' }).count(), offered ? 2 : 0, `${role}: the menu's link and the button`)
  }
})
