// Sign-in, a wrong password, sign-out and an ended session, in words a user
// understands; the sign-in page and the dashboard of each role pass axe and
// are photographed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, signIn, settled, go, URL_BASE, PW, assertAxe, shots, assertClean, USERS } from './lib/env.mjs';

const legal = Object.keys(USERS).find((u) => USERS[u] === 'legal');
const compliance = Object.keys(USERS).find((u) => USERS[u] === 'compliance');
const legal2 = 'tess';

// The session ends on the server (as after the idle timeout): signed out
// by a request of the page's own, behind the app's back.
async function endSession(page) {
	await page.evaluate(async () => {
		const me = await (await fetch('/api/v1/me')).json();
		await fetch('/api/v1/session', { method: 'DELETE', headers: { 'X-CSRF-Token': me.csrf } });
	});
}

// Another tab of the same browser signs in as someone else: the cookie
// the app's tab sends changes under it.
async function signInElsewhere(context, user) {
	const other = await context.newPage();
	await other.goto(`${URL_BASE}/favicon.svg`);
	const status = await other.evaluate(async ([u, pw]) => (await fetch('/api/v1/session', { method: 'POST',
		headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: u, password: pw }) })).status, [user, PW]);
	await other.close();
	assert.equal(status, 200, `${user} signs in in the other tab`);
}

test('sign-in, sign-out and an ended session', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec, context } = await openPage(browser);

	await page.goto(`${URL_BASE}/`);
	await page.getByLabel('User name').waitFor();
	await assertAxe(page, 'sign-in');
	await shots(page, 'signin', { dark: true });

	await page.getByLabel('User name').fill(legal);
	await page.getByLabel('Password').fill('not the password');
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByRole('alert').filter({ hasText: 'user name or password is wrong' }).waitFor();
	await shots(page, 'signin-wrong');

	await signIn(page, legal);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await assertAxe(page, 'dashboard (legal)');

	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByText('You have signed out.').waitFor();
	await page.reload();
	await page.getByLabel('User name').waitFor();

	// The session ends under the page (the cookie is gone, as after the idle
	// timeout): the next request brings the sign-in back, with a note.
	// The dashboard's own requests first: one still on its way when the
	// cookie goes would end the session before the click below (a race
	// of the test, seen since every audited read goes through the signer).
	await signIn(page, legal);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await settled(page);
	await context.clearCookies();
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Matters' }).click();
	await page.getByText('Your session has ended. Please sign in again.').waitFor();
	await shots(page, 'signin-expired');
	assertClean(rec, 'sign-in');
});

test('the session ends while a dialog is open: it closes, the sign-in can be used and says what was not done', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec } = await openPage(browser);
	await signIn(page, legal);
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	await settled(page);
	await page.getByRole('button', { name: 'Change password' }).click();
	const dlg = page.getByRole('dialog', { name: 'Change your password' });
	await dlg.getByLabel('Current password').fill(PW);
	await dlg.getByLabel('New password', { exact: true }).fill('a new passphrase here');
	await dlg.getByLabel('New password again').fill('a new passphrase here');
	await endSession(page);
	await dlg.getByRole('button', { name: 'Change password' }).click();
	const note = page.getByRole('status').filter({ hasText: 'Your session has ended.' });
	await note.waitFor();
	assert.match(await note.innerText(), /“Change your password” was not done: what you entered there was not sent\./);
	assert.equal(await page.locator('dialog').count(), 0, 'no dialog is left over the sign-in');
	const focused = await page.evaluate(() => document.activeElement && document.activeElement.labels && document.activeElement.labels[0] && document.activeElement.labels[0].textContent);
	assert.equal(focused, 'User name', 'the focus is in the sign-in form');
	await assertAxe(page, 'sign-in after the session ended in a dialog');
	await shots(page, 'signin-expired-in-dialog');
	// The form works (the page behind is not inert) and the password did not change.
	await page.keyboard.type(legal);
	await page.getByLabel('Password').fill(PW);
	await page.getByRole('button', { name: 'Sign in' }).click();
	await page.getByRole('button', { name: 'Sign out' }).waitFor();
	assertClean(rec, 'the session ended in a dialog');
});

test('a sign-in in another tab is noticed: on the next page, and on a refused request', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec, context } = await openPage(browser);
	await signIn(page, legal);
	await go(page, 'search?all=1');
	await settled(page);
	// Same role, another user: the next page says so and the header shows them.
	await signInElsewhere(context, legal2);
	await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Matters' }).click();
	await page.locator('main').getByText(`You are now signed in as ${legal2} (in another tab).`).waitFor();
	assert.match(await page.locator('#who .user').innerText(), new RegExp(`^${legal2}`));
	await assertAxe(page, 'matters after another tab signed in');
	await shots(page, 'signed-in-elsewhere');

	// A compliance officer's page; in the other tab a legal user signs in;
	// the export is refused (403): the page learns who is signed in now and
	// draws their page, saying why.
	await page.getByRole('button', { name: 'Sign out' }).click();
	await page.getByLabel('User name').waitFor();
	await signIn(page, compliance);
	await go(page, 'audit');
	await page.getByRole('button', { name: 'Export audit bundle' }).waitFor();
	await settled(page);
	await signInElsewhere(context, legal);
	await page.getByRole('button', { name: 'Export audit bundle' }).click();
	await page.locator('main').getByText(`You are now signed in as ${legal} (in another tab).`).waitFor();
	await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
	const nav = await page.getByRole('navigation', { name: 'Main' }).getByRole('link').allInnerTexts();
	assert.ok(nav.includes('Search') && !nav.includes('Audit trail'), `the legal user's navigation: ${nav}`);
	assertClean(rec, 'another tab signed in');
});
