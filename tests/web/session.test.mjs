// Sign-in, a wrong password, sign-out and an ended session, in words a user
// understands; the sign-in page and the dashboard of each role pass axe and
// are photographed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, signIn, settled, URL_BASE, assertAxe, shots, assertClean, USERS } from './lib/env.mjs';

const legal = Object.keys(USERS).find((u) => USERS[u] === 'legal');

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
