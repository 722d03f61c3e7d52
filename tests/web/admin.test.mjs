// The admin's whole job in the browser (issue 14): add and test an account
// (the password never comes back), harvest now, add a user and enrol their
// second factor (the QR code drawn in the page; they then sign in with a
// code), propose a policy and see the dry-run chart; and an admin cannot
// open a message.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { launch, openPage, signIn, go, URL_BASE, PW, shots, assertAxe, assertClean, DOVECOT, USERS } from './lib/env.mjs';

const admin = Object.keys(USERS).find((u) => USERS[u] === 'admin');

// RFC 6238 (SHA-1, 30 s, 6 digits) for the secret the page showed.
function totp(b32, t = Date.now() / 1000) {
	const alpha = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
	let bits = '';
	for (const c of b32.replace(/=+$/, '')) bits += alpha.indexOf(c).toString(2).padStart(5, '0');
	const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
	const ctr = Buffer.alloc(8);
	ctr.writeBigUInt64BE(BigInt(Math.floor(t / 30)));
	const mac = createHmac('sha1', key).update(ctr).digest();
	const off = mac[mac.length - 1] & 15;
	return String((mac.readUInt32BE(off) & 0x7fffffff) % 1e6).padStart(6, '0');
}

test('admin: accounts, harvest, users and TOTP, policy proposal; no mail', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec } = await openPage(browser);
	await signIn(page, admin);

	await t.test('add an account and test its connection', async () => {
		await go(page, 'accounts');
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add an account' }) });
		await form.getByLabel('Account name').fill('bob');
		await form.getByLabel('Server').fill(DOVECOT.host);
		await form.getByLabel('Port').fill(String(DOVECOT.port));
		await form.getByLabel('Login').fill(DOVECOT.user);
		await form.getByLabel('Account password').fill(DOVECOT.password);
		await form.getByLabel('CA file on the appliance').fill(DOVECOT.ca);
		await form.getByRole('button', { name: 'Add account' }).click();
		await page.getByText('Account bob added.').first().waitFor();
		// The password is write-only: it is nowhere in the page or its data.
		assert.ok(!(await page.content()).includes(DOVECOT.password));
		await page.getByRole('button', { name: 'Test bob' }).click();
		const dlg = page.getByRole('dialog');
		await dlg.getByText('The connection works').waitFor({ timeout: 30000 });
		await shots(page, 'accounts-test');
		await dlg.getByRole('button', { name: 'Close' }).click();
		await assertAxe(page, 'accounts');
		await shots(page, 'accounts');
	});

	await t.test('harvest now', async () => {
		await page.getByRole('button', { name: 'Harvest now' }).click();
		await page.getByText(/The last harvest (finished|failed)/).waitFor({ timeout: 60000 });
	});

	await t.test('add a user, enrol TOTP (QR drawn here), the user signs in with a code', async () => {
		await go(page, 'users');
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add a user' }) });
		await form.getByLabel('New user name').fill('quinn');
		await form.getByLabel('Role').selectOption('legal');
		await form.getByLabel('Initial password').fill(PW);
		await form.getByRole('button', { name: 'Add user' }).click();
		await page.getByRole('button', { name: 'Enrol TOTP for quinn' }).click();
		await page.getByRole('dialog').getByRole('button', { name: 'Enrol' }).click();
		const qr = page.getByRole('img', { name: "QR code for quinn's authenticator" });
		await qr.waitFor();
		assert.ok(await qr.locator('rect.on').count() > 200, 'the QR code has its modules');
		const secret = (await page.getByRole('dialog').locator('code').innerText()).trim();
		assert.match(secret, /^[A-Z2-7]+=*$/);
		await assertAxe(page, 'TOTP enrolment');
		await shots(page, 'users-totp');
		await page.getByRole('dialog').getByRole('button', { name: 'Close' }).click();
		await assertAxe(page, 'users');
		await shots(page, 'users');

		const other = await openPage(browser);
		await other.page.goto(`${URL_BASE}/`);
		await other.page.getByLabel('User name').fill('quinn');
		await other.page.getByLabel('Password').fill(PW);
		await other.page.getByRole('button', { name: 'Sign in' }).click();
		await other.page.getByLabel('One-time code').waitFor();
		await shots(other.page, 'signin-totp');
		await other.page.getByLabel('One-time code').fill(totp(secret));
		await other.page.getByRole('button', { name: 'Sign in' }).click();
		await other.page.getByRole('button', { name: 'Sign out' }).waitFor();
		await other.context.close();
	});

	await t.test('propose a shorter policy: syntax checked as you type, dry-run chart, pending approval', async () => {
		await go(page, 'policy');
		const editor = page.getByLabel('Policy text');
		const text = await editor.inputValue();
		assert.match(text, /default: retain 6y/);
		await editor.fill(text.replace('default: retain 6y', 'default: retain 6q'));
		await page.locator('#policy-syntax').filter({ hasText: /^✗ line \d+, column \d+/ }).waitFor();
		await editor.fill(text.replace('default: retain 6y', 'default: retain 1y'));
		await page.locator('#policy-syntax').filter({ hasText: '✓ The policy is well formed' }).waitFor();
		await page.getByRole('button', { name: 'Dry run' }).click();
		await page.getByText(/messages change class or expiry/).waitFor();
		const chart = page.getByRole('img', { name: /Messages expiring per month/ });
		await chart.waitFor();
		assert.ok(await chart.locator('rect').count() > 0, 'the chart has bars');
		await assertAxe(page, 'policy dry run');
		await shots(page, 'policy-dry-run');
		await page.getByRole('button', { name: 'Propose…' }).click();
		const dlg = page.getByRole('dialog');
		await dlg.getByLabel('Reason for the change').fill('retention agreed with counsel');
		await dlg.getByRole('button', { name: 'Propose' }).click();
		await page.getByText(/^Proposal #\d+ shortens retention: it waits for approval/).waitFor();
	});

	await t.test('an admin cannot open a message', async () => {
		await page.goto(`${URL_BASE}/#/message/1`);
		await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
		assert.equal(await page.getByRole('link', { name: 'Search' }).count(), 0);
		const status = await page.evaluate(async () => (await fetch('/api/v1/messages/1')).status);
		assert.equal(status, 403);
	});
	assertClean(rec, 'the admin pages');
});
