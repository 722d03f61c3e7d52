// The admin's whole job in the browser (issue 14): add and test an account
// (the password never comes back), harvest now, add a user (who chooses
// their own password at the first sign-in and sets up their own second
// factor: an admin never sees it; a legal or compliance one signs in only
// once a compliance officer the admin did not set up approves), propose a policy and see the dry-run
// chart; and an admin cannot open a message.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { launch, openPage, signIn, go, URL_BASE, PW, shots, assertAxe, assertClean, DOVECOT, USERS,
	listen, heard, said, description, focused } from './lib/env.mjs';

const admin = Object.keys(USERS).find((u) => USERS[u] === 'admin');
// Added on the command line: nobody in the web set them up.
const compliance = Object.keys(USERS).find((u) => USERS[u] === 'compliance');

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

// The server takes one code per 30 s step: after a code of this step was
// used, the next step is awaited (no test depends on luck with the clock).
const usedStep = new Map();
async function freshCode(b32) {
	const last = usedStep.get(b32);
	const wait = last === undefined ? 0 : (last + 1) * 30000 - Date.now();
	if (wait > 0) await new Promise((r) => setTimeout(r, wait + 250));
	const t = Date.now() / 1000;
	usedStep.set(b32, Math.floor(t / 30));
	return totp(b32, t);
}

// A code the server refuses: none of the steps it accepts now.
function wrongCode(b32) {
	const t = Date.now() / 1000;
	const near = [-30, 0, 30, 60].map((d) => totp(b32, t + d));
	for (let n = 0; ; n += 1) {
		const c = String(n * 111111 % 1e6).padStart(6, '0');
		if (!near.includes(c)) return c;
	}
}

// The roles that must use a second factor, as the server has them.
const requiredRoles = (page) => page.evaluate(async () => (await (await fetch('/api/v1/settings/totp')).json()).required_roles);

// A state-changing request as the page would send it (with its CSRF token).
function send(page, method, path, body) {
	return page.evaluate(async ([m, u, b]) => {
		const me = await (await fetch('/api/v1/me')).json();
		const headers = { 'X-CSRF-Token': me.csrf };
		if (b !== null) headers['Content-Type'] = 'application/json';
		const res = await fetch(u, { method: m, headers, body: b === null ? undefined : JSON.stringify(b) });
		return { status: res.status, text: await res.text() };
	}, [method, path, body === undefined ? null : body]);
}

const webUser = async (page, name) => (await page.evaluate(async () => (await (await fetch('/api/v1/users')).json()).users))
	.find((u) => u.name === name);

// The access name's account waits for: {approval, state}, or null.
const accessOf = async (page, name) => (await webUser(page, name)).access;

// A compliance officer (one the admin did not set up: made at the shell)
// approves the access name's account waits for, through the API; returns
// its id.
async function approveAccess(browser, page, name) {
	const id = (await accessOf(page, name)).approval;
	const other = await openPage(browser);
	await signIn(other.page, compliance);
	const r = await send(other.page, 'POST', `/api/v1/approvals/${id}/approve`, { reason: `${name} joined the team` });
	assert.equal(r.status, 200, r.text);
	assert.deepEqual(JSON.parse(r.text).effect, { may_sign_in: name });
	await other.context.close();
	assert.equal(await accessOf(page, name), null, `${name} may sign in`);
	return id;
}

// A compliance officer made at the shell, in a browser of their own, on
// Approvals (listened to): the pending row of account access `id`.
async function officerSees(browser, id) {
	const officer = await openPage(browser);
	const q = officer.page;
	await signIn(q, compliance);
	await go(q, 'approvals');
	await listen(q);
	const item = q.getByRole('region', { name: 'Pending approvals' }).getByRole('row', { name: new RegExp(`^${id} Account access`) });
	return { officer, q, item };
}

// Adds a user with the Users page's form, as the admin does.
async function addUser(page, name, role) {
	await go(page, 'users');
	const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add a user' }) });
	await form.getByLabel('New user name').fill(name);
	await form.getByLabel('Role').selectOption(role);
	await form.getByLabel('Initial password').fill(PW);
	await form.getByRole('button', { name: 'Add user' }).click();
	await page.getByRole('region', { name: 'Users' }).getByRole('row', { name: new RegExp(`^${name}\\b`) }).waitFor();
}

test('admin: accounts, harvest, users and TOTP, policy proposal; no mail', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec } = await openPage(browser);
	await signIn(page, admin);

	await t.test('add an account and test its connection', async () => {
		await go(page, 'accounts');
		await listen(page);
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add an account' }) });
		await form.getByLabel('Account name').fill('bob');
		await form.getByLabel('Server').fill(DOVECOT.host);
		await form.getByLabel('Port').fill(String(DOVECOT.port));
		await form.getByLabel('Login').fill(DOVECOT.user);
		await form.getByLabel('Account password').fill(DOVECOT.password);
		await form.getByLabel('CA file on the appliance').fill(DOVECOT.ca);
		await form.getByRole('button', { name: 'Add account' }).click();
		await page.getByText('Account bob added.').first().waitFor();
		// The notice is shown once: not in the address, gone on a reload.
		await page.locator('main').getByText('Account bob added. Test its connection below.').waitFor();
		await heard(page, /^Account bob added\. Test its connection below\.$/);
		assert.doesNotMatch(page.url(), /added=/);
		await page.reload();
		await page.getByRole('button', { name: 'Test bob' }).waitFor();
		assert.equal(await page.getByText('Account bob added. Test its connection below.').count(), 0, 'no notice after a reload');
		// The password is write-only: it is nowhere in the page or its data.
		assert.ok(!(await page.content()).includes(DOVECOT.password));
		// Keyboard only: the button keeps the focus while the test runs
		// (busy, not disabled), the start is announced, and the focus is
		// back on it when the result's dialog closes.
		await listen(page);
		const test = page.getByRole('button', { name: 'Test bob' });
		let release;
		const held = new Promise((r) => { release = r; });
		await page.route('**/api/v1/accounts/bob/test', async (route) => { await held; await route.continue(); });
		await test.focus();
		await page.keyboard.press('Enter');
		await heard(page, /^Testing bob…$/);
		assert.equal(await test.getAttribute('aria-disabled'), 'true', 'busy while the test runs');
		assert.ok(await focused(test), 'the busy button keeps the focus');
		release();
		const dlg = page.getByRole('dialog');
		await dlg.getByText('The connection works').waitFor({ timeout: 30000 });
		await page.unroute('**/api/v1/accounts/bob/test');
		// The result is the dialog's description: read when it opens.
		assert.match(await description(dlg), /The connection works/);
		await shots(page, 'accounts-test');
		await page.keyboard.press('Enter');
		await dlg.waitFor({ state: 'detached' });
		assert.ok(await focused(test), 'the focus is back on "Test bob" once the dialog closes');
		assert.equal(await test.getAttribute('aria-disabled'), null, 'no longer busy');
		await assertAxe(page, 'accounts');
		await shots(page, 'accounts');
	});

	await t.test('accounts: the same words for security in the table as in the form; a long failure wraps', async () => {
		const row = page.getByRole('region', { name: 'Upstream accounts' }).getByRole('row', { name: /^bob/ });
		const security = row.getByRole('cell').nth(2);
		assert.equal(await security.innerText(), 'TLS');
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add an account' }) });
		const words = await form.getByLabel('Security').locator('option').allInnerTexts();
		assert.ok(words.includes('TLS'), `the form says TLS too: ${words}`);
		const long = `harvest of bob: ${'the server closed the connection during the TLS handshake, '.repeat(4)}`;
		await page.route('**/api/v1/accounts', async (route) => {
			const res = await route.fetch();
			const j = await res.json();
			j.accounts[0].last_harvest = { time: '2026-12-02T07:30:00Z', ok: false, fetched: 0, outcome: long };
			return route.fulfill({ response: res, json: j });
		});
		await go(page, 'dashboard');
		await go(page, 'accounts');
		const badge = page.locator('.badge', { hasText: 'closed the connection' });
		await badge.waitFor();
		const fit = await page.evaluate(() => {
			const wrap = document.querySelector('.table-wrap');
			const b = document.querySelector('td .badge.bad');
			return { scroll: wrap.scrollWidth, client: wrap.clientWidth, badge: b.getBoundingClientRect().width, cell: b.closest('td').getBoundingClientRect().width };
		});
		assert.ok(fit.scroll <= fit.client + 1, `the table does not overflow: ${JSON.stringify(fit)}`);
		assert.ok(fit.badge <= fit.cell, `the badge stays in its cell: ${JSON.stringify(fit)}`);
		await shots(page, 'accounts-long-failure');
		await page.unroute('**/api/v1/accounts');
	});

	await t.test('edit an account: the password when the server changes; refusals in the dialog', async () => {
		await go(page, 'accounts');
		await page.getByRole('button', { name: 'Edit bob' }).click();
		const dlg = page.getByRole('dialog', { name: 'Edit account bob' });
		await dlg.getByLabel('Port').fill('10995');
		await dlg.getByRole('button', { name: 'Save' }).click();
		await dlg.getByRole('alert').filter({ hasText: 'Enter the account password' }).waitFor();
		const pw = dlg.getByLabel('Account password (leave empty to keep it)');
		assert.equal(await pw.getAttribute('aria-invalid'), 'true');
		assert.equal(await dlg.getByLabel('Port').inputValue(), '10995', 'what was typed stays');
		await assertAxe(page, 'account edit, password needed');
		// The server refuses: its words, in the dialog, which stays open.
		await page.route('**/api/v1/accounts/bob', (route) => (route.request().method() === 'PATCH'
			? route.fulfill({ status: 400, json: { error: { code: 'invalid', message: 'port: nothing answers there' } } })
			: route.continue()));
		await pw.fill(DOVECOT.password);
		await dlg.getByRole('button', { name: 'Save' }).click();
		await dlg.getByRole('alert').filter({ hasText: 'port: nothing answers there' }).waitFor();
		await shots(page, 'account-edit-refused');
		await dlg.getByRole('button', { name: 'Cancel' }).click();
		await dlg.waitFor({ state: 'detached' });
		await page.unroute('**/api/v1/accounts/bob');
	});

	await t.test('harvest now: the accounts are drawn anew when it ends, in words', async () => {
		const row = page.getByRole('region', { name: 'Upstream accounts' }).getByRole('row', { name: /^bob/ });
		assert.match(await row.innerText(), /never/, 'bob was never harvested');
		await page.getByRole('button', { name: 'Harvest now' }).click();
		const done = page.getByText(/The last harvest (finished|failed)/);
		await done.waitFor({ timeout: 60000 });
		assert.match(await done.innerText(), /\d+ messages? fetched, \d+ deleted upstream, \d+ messages? failed\./);
		assert.doesNotMatch(await done.innerText(), /harvests failed/);
		await row.getByText('never').waitFor({ state: 'detached' });
		await row.locator('time').waitFor();
	});

	await t.test('a new user chooses their own password at the first sign-in, then sets up a second factor; a legal one waits for a compliance officer\'s approval first', async () => {
		await go(page, 'users');
		await listen(page);
		await addUser(page, 'quinn', 'legal');
		const access = await accessOf(page, 'quinn');
		assert.equal(access && access.state, 'pending', `quinn's access waits: ${JSON.stringify(access)}`);
		const id = access.approval;
		const said = `User quinn added. The account opens once a compliance officer you did not set up approves it (approval #${id}).`;
		await page.locator('main').getByRole('status').filter({ hasText: said }).waitFor();
		await heard(page, new RegExp(`^${said.replace(/[.()#]/g, '\\$&')}$`));
		const row = page.getByRole('region', { name: 'Users' }).getByRole('row', { name: /^quinn\b/ });
		await row.getByText('one-time password').waitFor();
		const waits = row.getByRole('link', { name: `Account access waits for approval #${id}`, exact: true });
		await waits.waitFor();
		assert.equal(await waits.innerText(), `Access waits for approval #${id}`, 'the words shown are part of its name');
		assert.equal(await waits.getAttribute('href'), '#/approvals');
		assert.equal(await page.getByRole('button', { name: /Enrol/ }).count(), 0, 'no admin enrolment any more');
		await assertAxe(page, 'users');
		await shots(page, 'users');
		// Drawn anew, the notice is gone; the wait is still said.
		await page.reload();
		await waits.waitFor();
		assert.equal(await page.getByText(said).count(), 0, 'no notice after a reload');

		// Whoever knows the password adam set (quinn, or adam) cannot sign in.
		const other = await openPage(browser);
		const p = other.page;
		await p.goto(`${URL_BASE}/`);
		await p.getByLabel('User name').fill('quinn');
		await p.getByLabel('Password').fill(PW);
		await p.getByRole('button', { name: 'Sign in' }).click();
		const shut = p.getByRole('alert').filter({ hasText: 'An administrator set up this account. It opens once a compliance officer approves it: ask them.' });
		await shut.waitFor();
		assert.ok(await focused(shut), 'the focus is on what is said');
		assert.equal(await p.getByLabel('New password', { exact: true }).count(), 0, 'nothing more is asked');
		assert.equal(await p.getByLabel('Password').inputValue(), PW, 'the form keeps what was typed');
		await assertAxe(p, 'sign-in, access not approved');
		await shots(p, 'signin-access-not-approved');

		// A compliance officer adam set up is not a second person: the
		// server's reason is shown in the dialog. Her own account opens
		// only once an officer adam did not set up approves it.
		const cleo = await openPage(browser);
		assert.equal((await send(page, 'POST', '/api/v1/users', { name: 'cleo', role: 'compliance', password: PW })).status, 201);
		assert.equal((await accessOf(page, 'cleo')).state, 'pending', 'cleo waits too');
		await approveAccess(browser, page, 'cleo');
		await signIn(cleo.page, 'cleo', { newPassword: 'she picked her own phrase' });
		await go(cleo.page, 'approvals');
		await cleo.page.getByRole('region', { name: 'Pending approvals' }).getByRole('button', { name: `Approve #${id}` }).click();
		const no = cleo.page.getByRole('dialog', { name: `Approve account access #${id}?` });
		await no.getByLabel('Your reason').fill('looks fine to me');
		await no.getByRole('button', { name: 'Approve' }).click();
		await no.getByRole('alert').filter({ hasText: new RegExp(`^Not allowed: web:${admin}, who proposed approval ${id}, and web:cleo are not two people.*have root set cleo's password at the shell \\(popvault user passwd\\)\\.$`) }).waitFor();
		await shots(cleo.page, 'approval-user-access-not-two-people');
		await no.getByRole('button', { name: 'Cancel' }).click();
		await cleo.context.close();
		assert.equal((await accessOf(page, 'quinn')).state, 'pending', 'still waiting');

		// The admin sees their own request, which they may withdraw.
		await go(page, 'approvals');
		const mine = page.getByRole('region', { name: 'Pending approvals' }).getByRole('row', { name: new RegExp(`^${id} Account access`) });
		await mine.getByRole('button', { name: `Withdraw #${id}` }).waitFor();
		assert.equal(await mine.getByRole('button', { name: `Approve #${id}` }).count(), 0, 'not approved by the one who asked');

		// A compliance officer, in another browser, sees who asked for which
		// account and approves.
		const { officer, q, item } = await officerSees(browser, id);
		await item.getByText('Account: quinn').waitFor();
		await item.getByText(`let quinn sign in with the role legal (reads mail): account and password set by web:${admin}`).waitFor();
		assert.equal(await item.getByRole('link', { name: 'Account changes of quinn in the audit trail' }).getAttribute('href'), '#/audit?object=user%3Dquinn');
		await assertAxe(q, 'approvals, account access');
		await shots(q, 'approvals-user-access');
		await item.getByRole('button', { name: `Approve #${id}` }).click();
		const yes = q.getByRole('dialog', { name: `Approve account access #${id}?` });
		const desc = await description(yes);
		assert.match(desc, /^Account: quinn/);
		assert.match(desc, /quinn may then sign in and read mail/);
		await yes.getByLabel('Your reason').fill('quinn joined the legal team this week');
		await assertAxe(q, 'approving account access');
		await shots(q, 'approval-user-access-dialog');
		await yes.getByRole('button', { name: 'Approve' }).click();
		await heard(q, new RegExp(`^Account access #${id} approved\\. quinn may sign in now\\.$`));
		await item.waitFor({ state: 'detached' });
		await q.getByRole('region', { name: 'Decided approvals' }).getByRole('row', { name: new RegExp(`^${id} Account access`) })
			.getByText(`approved by web:${compliance}`).waitFor();
		await officer.context.close();
		assert.equal(await accessOf(page, 'quinn'), null, 'quinn may sign in');
		await go(page, 'users');
		await page.getByRole('region', { name: 'Users' }).getByRole('row', { name: /^quinn\b/ }).getByText('one-time password').waitFor();
		assert.equal(await page.getByRole('link', { name: /^Account access/ }).count(), 0, 'nothing waits');

		// The same form, tried again: the password works (once).
		await p.getByRole('button', { name: 'Sign in' }).click();
		const next = p.getByLabel('New password', { exact: true });
		const again = p.getByLabel('New password again');
		await next.waitFor();
		assert.ok(await focused(next), 'the focus is on the new password');
		await p.getByText('works only once').waitFor();
		await assertAxe(p, 'sign-in, new password');
		await shots(p, 'signin-new-password');
		const MINE = 'he keeps this one to himself';
		// The two differ: caught here, at the second one.
		await next.fill(MINE);
		await again.fill(`${MINE}!`);
		await p.getByRole('button', { name: 'Sign in' }).click();
		await p.getByRole('alert').filter({ hasText: 'The two new passwords differ.' }).waitFor();
		assert.equal(await again.getAttribute('aria-invalid'), 'true');
		assert.ok(await focused(again), 'the focus is on the second new password');
		// A weak one: the server's reason, at the new password.
		await next.fill('quinnquinnquinn1');
		await again.fill('quinnquinnquinn1');
		await p.getByRole('button', { name: 'Sign in' }).click();
		const refused = p.getByRole('alert').filter({ hasText: /^Not accepted: .*name/ });
		await refused.waitFor();
		assert.equal(await next.getAttribute('aria-invalid'), 'true');
		assert.ok(await focused(next), 'the focus is on the refused new password');
		assert.ok(await next.evaluate((el, box) => el.closest('.field').contains(box), await refused.elementHandle()), 'said at the field');
		assert.equal((await webUser(page, 'quinn')).password_once, true, 'still the one-time password');
		await assertAxe(p, 'sign-in, new password refused');
		await shots(p, 'signin-new-password-refused');
		await next.fill(MINE);
		await again.fill(MINE);
		await p.getByRole('button', { name: 'Sign in' }).click();
		await p.getByRole('button', { name: 'Sign out' }).waitFor();
		assert.equal((await webUser(page, 'quinn')).password_once, false, 'his own password now');

		// His own second factor, from the header: the password first.
		await listen(p);
		await p.getByRole('button', { name: 'Set up second factor' }).click();
		const ask = p.getByRole('dialog', { name: 'Set up your second factor' });
		await ask.getByLabel('Your password').fill('not his password at all');
		await ask.getByRole('button', { name: 'Continue' }).click();
		await ask.getByRole('alert').filter({ hasText: 'The password is wrong.' }).waitFor();
		assert.equal(await ask.getByLabel('Your password').getAttribute('aria-invalid'), 'true');
		await ask.getByLabel('Your password').fill(MINE);
		await ask.getByRole('button', { name: 'Continue' }).click();
		const dlg = p.getByRole('dialog', { name: 'Add popvault to your authenticator app' });
		const qr = dlg.getByRole('img', { name: "QR code for quinn's authenticator" });
		await qr.waitFor();
		assert.ok(await qr.locator('rect.on').count() > 200, 'the QR code has its modules');
		const secret = (await dlg.locator('code').innerText()).trim();
		assert.match(secret, /^[A-Z2-7]+$/);
		assert.equal((await webUser(page, 'quinn')).totp_pending, true, 'being set up');
		await assertAxe(p, 'second factor set-up');
		await shots(p, 'totp-setup');
		const code = dlg.getByLabel('One-time code');
		await code.fill(wrongCode(secret));
		await dlg.getByRole('button', { name: 'Set up second factor' }).click();
		await dlg.getByRole('alert').filter({ hasText: 'The code is wrong' }).waitFor();
		assert.equal(await code.getAttribute('aria-invalid'), 'true');
		assert.equal((await webUser(page, 'quinn')).totp, false, 'not in force before a right code');
		await code.fill(await freshCode(secret));
		await dlg.getByRole('button', { name: 'Set up second factor' }).click();
		await dlg.waitFor({ state: 'detached' });
		await heard(p, /^Your second factor is set up/);
		const replace = p.getByRole('button', { name: 'Replace second factor' });
		await replace.waitFor();
		// The page is drawn anew first (its requests may take a while under
		// load), then the focus goes back: waited for, not sampled.
		await p.waitForFunction(() => document.activeElement && document.activeElement.id === 'own-totp', null, { timeout: 30000 });
		assert.ok(await focused(replace), 'the focus is back on the header button');
		assert.equal(await p.evaluate(async () => (await (await fetch('/api/v1/me')).json()).totp), true);

		// Signing in again: the code is asked for.
		await p.getByRole('button', { name: 'Sign out' }).click();
		await p.getByLabel('User name').fill('quinn');
		await p.getByLabel('Password').fill(MINE);
		await p.getByRole('button', { name: 'Sign in' }).click();
		await p.getByLabel('One-time code').waitFor();
		await shots(p, 'signin-totp');
		// A wrong code: the code is what is typed again, selected, not the password.
		const signCode = p.getByLabel('One-time code');
		await signCode.fill(wrongCode(secret));
		await signCode.press('Enter');
		await p.getByRole('alert').filter({ hasText: 'The user name, password or one-time code is wrong.' }).waitFor();
		assert.ok(await focused(signCode), 'the focus is in the code field after a wrong code');
		assert.deepEqual(await signCode.evaluate((el) => [el.selectionStart, el.selectionEnd]), [0, 6], 'the wrong code is selected');
		await signCode.fill(await freshCode(secret));
		await p.getByRole('button', { name: 'Sign in' }).click();
		await p.getByRole('button', { name: 'Sign out' }).waitFor();
		await other.context.close();
	});

	await t.test('an admin cannot obtain a user\'s second factor', async () => {
		const r = await send(page, 'POST', '/api/v1/users/quinn/totp');
		assert.ok(r.status >= 400, `refused: ${r.status}`);
		assert.doesNotMatch(r.text, /secret/);
		assert.equal((await webUser(page, 'quinn')).totp, true, 'his own stays');
	});

	await t.test('a user changes their own password: the current one first, then signs in anew', async () => {
		await addUser(page, 'rosa', 'legal');
		await approveAccess(browser, page, 'rosa');

		const other = await openPage(browser);
		const p = other.page;
		const MINE = 'she chose this passphrase';
		await signIn(p, 'rosa', { newPassword: MINE });
		const NEW = 'her next long passphrase';
		await p.getByRole('button', { name: 'Change password' }).click();
		const dlg = p.getByRole('dialog', { name: 'Change your password' });
		await dlg.getByLabel('Current password').fill('not the password at all');
		await dlg.getByLabel('New password', { exact: true }).fill(NEW);
		await dlg.getByLabel('New password again').fill(NEW + '!');
		await dlg.getByRole('button', { name: 'Change password' }).click();
		await dlg.getByText('The two new passwords differ.').waitFor();
		await dlg.getByLabel('New password again').fill(NEW);
		await dlg.getByRole('button', { name: 'Change password' }).click();
		await dlg.getByText('The current password is wrong.').waitFor();
		assert.equal(await dlg.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
		await assertAxe(p, 'change password');
		await shots(p, 'change-password');
		await dlg.getByLabel('Current password').fill(MINE);
		await dlg.getByRole('button', { name: 'Change password' }).click();
		await p.getByText('Your password was changed: sign in with the new one.').waitFor();
		for (const old of [PW, MINE]) {
			await p.getByLabel('User name').fill('rosa');
			await p.getByLabel('Password').fill(old);
			await p.getByRole('button', { name: 'Sign in' }).click();
			await p.getByText('The user name or password is wrong.').waitFor();
		}
		await signIn(p, 'rosa', { password: NEW });
		await other.context.close();
	});

	await t.test('a legal user\'s password set anew waits for approval again; withdrawn, the account stays shut', async () => {
		await go(page, 'users');
		await listen(page);
		await page.getByRole('button', { name: 'Change rosa' }).click();
		const dlg = page.getByRole('dialog', { name: 'Change rosa' });
		assert.match(await description(dlg), /A new password for a legal or compliance user, or the role Legal or Compliance, shuts the account until a compliance officer you did not set up approves it\./);
		await dlg.getByLabel('New password (empty: unchanged)').fill(PW);
		await dlg.getByRole('button', { name: 'Save' }).click();
		await dlg.waitFor({ state: 'detached' });
		const access = await accessOf(page, 'rosa');
		assert.equal(access && access.state, 'pending', `rosa's access waits again: ${JSON.stringify(access)}`);
		const id = access.approval;
		const said = `rosa changed. The account opens once a compliance officer you did not set up approves it (approval #${id}).`;
		await page.locator('main').getByRole('status').filter({ hasText: said }).waitFor();
		await heard(page, new RegExp(`^rosa changed\\. The account opens .* \\(approval #${id}\\)\\.$`));
		const row = page.getByRole('region', { name: 'Users' }).getByRole('row', { name: /^rosa\b/ });
		await row.getByRole('link', { name: `Account access waits for approval #${id}`, exact: true }).waitFor();

		// Asked by mistake: the admin withdraws it on the Approvals page.
		await go(page, 'approvals');
		await listen(page);
		await page.getByRole('region', { name: 'Pending approvals' }).getByRole('button', { name: `Withdraw #${id}` }).click();
		const w = page.getByRole('dialog', { name: `Withdraw account access #${id}?` });
		await w.getByLabel('Your reason').fill('set by mistake');
		await w.getByRole('button', { name: 'Withdraw' }).click();
		await heard(page, new RegExp(`^Account access #${id} withdrawn\\.$`));
		assert.deepEqual(await accessOf(page, 'rosa'), { approval: id, state: 'rejected' });

		// The account stays shut, and the Users page says so and what opens it.
		await go(page, 'users');
		const refused = row.getByRole('link', { name: `Account access refused (approval #${id})`, exact: true });
		await refused.waitFor();
		await row.getByText('To ask again, set a new password.').waitFor();
		await assertAxe(page, 'users, access refused');
		await shots(page, 'users-access-refused');
		const other = await openPage(browser);
		await other.page.goto(`${URL_BASE}/favicon.svg`);
		const r = await other.page.evaluate(async (pw) => {
			const res = await fetch('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ user: 'rosa', password: pw }) });
			return { status: res.status, code: (await res.json()).error.code };
		}, PW);
		assert.deepEqual(r, { status: 401, code: 'access_refused' }, 'rosa (or adam) cannot sign in');
		// The sign-in says it was refused or withdrawn, not that it waits.
		await other.page.goto(`${URL_BASE}/`);
		await other.page.getByLabel('User name').fill('rosa');
		await other.page.getByLabel('Password').fill(PW);
		await other.page.getByRole('button', { name: 'Sign in' }).click();
		await other.page.getByRole('alert').filter({ hasText: 'was refused or withdrawn' }).waitFor();
		await other.context.close();
	});

	await t.test('a compliance account the admin adds waits for an officer the admin did not set up, who is told what the role allows', async () => {
		await go(page, 'users');
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add a user' }) });
		assert.match(await description(form.getByLabel('Role')), /compliance approves and reads the audit trail\. Either opens once a compliance officer you did not set up approves it\./,
			'the form says a compliance account waits too');
		await listen(page);
		await addUser(page, 'nora', 'compliance');
		const access = await accessOf(page, 'nora');
		assert.equal(access && access.state, 'pending', `nora's access waits: ${JSON.stringify(access)}`);
		const id = access.approval;
		const said = `User nora added. The account opens once a compliance officer you did not set up approves it (approval #${id}).`;
		await page.locator('main').getByRole('status').filter({ hasText: said }).waitFor();
		await heard(page, new RegExp(`^${said.replace(/[.()#]/g, '\\$&')}$`));
		const row = page.getByRole('region', { name: 'Users' }).getByRole('row', { name: /^nora\b/ });
		const waits = row.getByRole('link', { name: `Account access waits for approval #${id}`, exact: true });
		await waits.waitFor();
		assert.match(await row.getByRole('cell').nth(1).innerText(), /^Compliance\n/, 'her role, the wait below it');
		assert.equal(await waits.getAttribute('href'), '#/approvals');
		await shots(page, 'users-compliance-waits');

		// Whoever knows the password adam set cannot sign in as nora yet.
		const stranger = await openPage(browser);
		await stranger.page.goto(`${URL_BASE}/favicon.svg`);
		const shut = await stranger.page.evaluate(async (pw) => {
			const res = await fetch('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' },
				body: JSON.stringify({ user: 'nora', password: pw }) });
			return { status: res.status, code: (await res.json()).error.code };
		}, PW);
		await stranger.context.close();
		assert.deepEqual(shut, { status: 401, code: 'access_not_approved' }, 'nora waits');

		// The officer made at the shell sees which account, with which role,
		// and the dialog says what that role allows.
		const { officer, q, item } = await officerSees(browser, id);
		await item.getByText('Account: nora').waitFor();
		await item.getByText(`let nora sign in with the role compliance (approves, reads the audit trail): account and password set by web:${admin}`).waitFor();
		await item.getByRole('button', { name: `Approve #${id}` }).click();
		const yes = q.getByRole('dialog', { name: `Approve account access #${id}?` });
		const desc = await description(yes);
		assert.match(desc, /^Account: nora/);
		assert.match(desc, /nora may then sign in, approve what waits for a second person and read the audit trail\. Approve it only if you know nora needs it\./);
		assert.doesNotMatch(desc, /read mail/, 'a compliance officer reads no mail');
		await yes.getByLabel('Your reason').fill('nora joined compliance this week');
		await assertAxe(q, 'approving a compliance account');
		await shots(q, 'approval-compliance-access-dialog');
		await yes.getByRole('button', { name: 'Approve' }).click();
		await heard(q, new RegExp(`^Account access #${id} approved\\. nora may sign in now\\.$`));
		await item.waitFor({ state: 'detached' });
		await officer.context.close();
		assert.equal(await accessOf(page, 'nora'), null, 'nora may sign in');
	});

	await t.test('a role that must use a second factor: a new user sets theirs up at the first sign-in', async () => {
		// nora, the compliance officer added and approved just before.
		assert.equal(await accessOf(page, 'nora'), null, 'nora may sign in');
		await go(page, 'users');
		const before = await requiredRoles(page);
		assert.ok(!before.includes('compliance'), `compliance is free to require: ${before}`);
		try {
			const form = page.locator('form', { has: page.getByRole('heading', { name: 'Roles that must use a second factor' }) });
			await form.getByLabel('Compliance').check();
			await form.getByRole('button', { name: 'Save' }).click();
			const ask = page.getByRole('dialog', { name: 'Require a second factor?' });
			assert.ok((await ask.getByRole('listitem').allInnerTexts()).includes('nora (Compliance)'), 'nora is named');
			await ask.getByRole('button', { name: 'Require it' }).click();
			await form.getByText(/^Second factor required for: .*Compliance/).waitFor();
			assert.ok((await requiredRoles(page)).includes('compliance'), 'saved');

			const other = await openPage(browser);
			const p = other.page;
			await p.goto(`${URL_BASE}/`);
			await p.getByLabel('User name').fill('nora');
			await p.getByLabel('Password').fill(PW);
			await p.getByRole('button', { name: 'Sign in' }).click();
			const MINE = 'picked a long one herself';
			await p.getByLabel('New password', { exact: true }).fill(MINE);
			await p.getByLabel('New password again').fill(MINE);
			await p.getByRole('button', { name: 'Sign in' }).click();
			// Her role needs a second factor she has not: set up here, before
			// she is signed in.
			const qr = p.getByRole('img', { name: "QR code for nora's authenticator" });
			await qr.waitFor();
			assert.ok(await qr.locator('rect.on').count() > 200, 'the QR code has its modules');
			const secret = (await p.locator('main code').innerText()).trim();
			assert.match(secret, /^[A-Z2-7]+$/);
			const code = p.getByLabel('One-time code');
			assert.ok(await focused(code), 'the focus is on the code');
			assert.equal(await p.getByRole('button', { name: 'Sign out' }).count(), 0, 'not signed in yet');
			await assertAxe(p, 'sign-in, second factor set-up');
			await shots(p, 'signin-totp-setup');
			await code.fill(await freshCode(secret));
			await p.getByRole('button', { name: 'Sign in' }).click();
			await p.getByRole('button', { name: 'Sign out' }).waitFor();
			await p.getByRole('button', { name: 'Replace second factor' }).waitFor();
			const nora = await webUser(page, 'nora');
			assert.deepEqual([nora.totp, nora.password_once], [true, false], 'her own factor and password');
			await other.context.close();
		} finally {
			const r = await send(page, 'PUT', '/api/v1/settings/totp', { required_roles: before });
			assert.equal(r.status, 200, r.text);
			// The next tests start from the page as the server has it now.
			await page.reload();
			await page.locator('main h1').first().waitFor();
		}
		assert.deepEqual(await requiredRoles(page), before, 'the setting as before');
	});

	await t.test('roles that must use a second factor: no lock-out', async () => {
		await go(page, 'users');
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Roles that must use a second factor' }) });
		const setting = () => requiredRoles(page);
		const before = await setting();
		// This admin has none: refused here, with the way to set one up (the
		// dialog of the header's button).
		await form.getByLabel('Administrator').check();
		await form.getByRole('button', { name: 'Save' }).click();
		await form.getByRole('alert').filter({ hasText: 'Set up yours first' }).waitFor();
		assert.deepEqual(await setting(), before, 'nothing saved');
		await assertAxe(page, 'second factor refused');
		await shots(page, 'users-totp-refused');
		await form.getByRole('button', { name: 'Set up your second factor' }).click();
		const own = page.getByRole('dialog', { name: 'Set up your second factor' });
		await own.getByLabel('Your password').waitFor();
		await own.getByRole('button', { name: 'Cancel' }).click();
		await own.waitFor({ state: 'detached' });
		await form.getByLabel('Administrator').uncheck();
		// Legal: lena and tess have none (quinn has one): named, asked, cancelled.
		await form.getByLabel('Legal').check();
		await form.getByRole('button', { name: 'Save' }).click();
		const dlg = page.getByRole('dialog', { name: 'Require a second factor?' });
		const names = await dlg.getByRole('listitem').allInnerTexts();
		assert.ok(names.includes('lena (Legal)') && names.includes('tess (Legal)'), `named: ${names}`);
		assert.ok(!names.some((n) => n.startsWith('quinn')), 'quinn has one');
		await dlg.getByRole('button', { name: 'Cancel' }).click();
		assert.deepEqual(await setting(), before, 'nothing saved');
		// The server's own refusal (409) is shown in the dialog.
		await page.route('**/api/v1/settings/totp', (route) => (route.request().method() === 'PUT'
			? route.fulfill({ status: 409, json: { error: { code: 'conflict', message: 'no administrator could sign in' } } })
			: route.continue()));
		await form.getByRole('button', { name: 'Save' }).click();
		await dlg.getByRole('button', { name: 'Require it' }).click();
		await dlg.getByRole('alert').filter({ hasText: 'no administrator could sign in' }).waitFor();
		await dlg.getByRole('button', { name: 'Cancel' }).click();
		await page.unroute('**/api/v1/settings/totp');
		assert.deepEqual(await setting(), before, 'nothing saved');
		await form.getByLabel('Legal').uncheck();
	});

	await t.test('users: a refused addition is said in the form; a second factor can be removed', async () => {
		await go(page, 'users');
		const form = page.locator('form', { has: page.getByRole('heading', { name: 'Add a user' }) });
		await form.getByLabel('New user name').fill('quinn');
		await form.getByLabel('Initial password').fill(PW);
		await form.getByRole('button', { name: 'Add user' }).click();
		const err = form.getByRole('alert');
		await err.filter({ hasText: 'The user was not added' }).waitFor();
		assert.ok(await page.evaluate(() => document.activeElement.closest('form') !== null
			&& document.activeElement.contains(document.querySelector('form [role="alert"]'))), 'the focus moved to the error, in the form');
		await assertAxe(page, 'users, addition refused');
		await shots(page, 'users-add-refused');
		// Removing quinn's second factor: asked first; the server's refusal
		// (the last admin's while admins must use one) said in the dialog.
		const rm = page.getByRole('button', { name: 'Remove second factor of quinn' });
		await page.route('**/api/v1/users/quinn/totp', (route) => (route.request().method() === 'DELETE'
			? route.fulfill({ status: 409, json: { error: { code: 'conflict', message: 'the last administrator’s second factor cannot be removed while administrators must use one' } } })
			: route.continue()));
		await rm.click();
		const dlg = page.getByRole('dialog', { name: 'Remove quinn’s second factor?' });
		assert.match(await description(dlg), /they set up a new one at their next sign-in/);
		await dlg.getByRole('button', { name: 'Remove second factor' }).click();
		await dlg.getByRole('alert').filter({ hasText: 'cannot be removed while administrators must use one' }).waitFor();
		await assertAxe(page, 'second factor removal refused');
		await page.unroute('**/api/v1/users/quinn/totp');
		await dlg.getByRole('button', { name: 'Remove second factor' }).click();
		await dlg.waitFor({ state: 'detached' });
		const row = page.getByRole('region', { name: 'Users' }).getByRole('row', { name: /^quinn/ });
		await row.getByText('none', { exact: true }).waitFor();
		assert.equal(await page.getByRole('button', { name: 'Remove second factor of quinn' }).count(), 0);
		const users = await page.evaluate(async () => (await (await fetch('/api/v1/users')).json()).users);
		assert.equal(users.find((u) => u.name === 'quinn').totp, false, 'the server removed it');
	});

	await t.test('phone: the current page\'s link is in view in the navigation', async () => {
		await page.setViewportSize({ width: 390, height: 844 });
		await go(page, 'approvals');
		await go(page, 'users');
		const fit = await page.evaluate(() => {
			const ul = document.querySelector('#nav ul');
			const a = ul.querySelector('[aria-current="page"]').getBoundingClientRect();
			const u = ul.getBoundingClientRect();
			return { left: a.left, right: a.right, uleft: u.left, uright: u.right, scroll: ul.scrollLeft, overflow: ul.scrollWidth > ul.clientWidth };
		});
		assert.ok(fit.overflow, 'the navigation is wider than the phone');
		assert.ok(fit.left >= fit.uleft - 1 && fit.right <= fit.uright + 1, `the current link is in view: ${JSON.stringify(fit)}`);
		// The header's buttons (password, second factor, sign out) fit too.
		const header = await page.evaluate(() => ({ page: document.documentElement.scrollWidth,
			right: Math.max(...[...document.querySelectorAll('#who button')].map((b) => b.getBoundingClientRect().right)) }));
		assert.ok(header.page <= 390 && header.right <= 390, `the header fits the phone: ${JSON.stringify(header)}`);
		await page.setViewportSize({ width: 1280, height: 860 });
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
		await listen(page);
		await page.getByRole('button', { name: 'Propose…' }).click();
		const dlg = page.getByRole('dialog');
		// The dialog's warning is its description, read with its title.
		assert.match(await description(dlg), /^If it shortens any retention, it takes effect only when a compliance officer approves it\.$/);
		await dlg.getByLabel('Reason for the change').fill('retention agreed with counsel');
		await dlg.getByRole('button', { name: 'Propose' }).click();
		const ok = page.locator('main').getByText(/^Proposal #\d+ shortens retention: it waits for approval/);
		await ok.waitFor();
		// Announced too: a role=status box inserted with its text is not read by every screen reader.
		await heard(page, /^Proposal #\d+ shortens retention: it waits for approval by a compliance officer\.$/);
		// Pending proposals drawn anew: this one, its dry run for the approver.
		const id = /#(\d+)/.exec(await ok.innerText())[1];
		await page.getByRole('region', { name: 'Pending policy proposals' }).getByRole('button', { name: `Withdraw #${id}` }).waitFor();
		await page.getByRole('button', { name: `Dry run of proposal #${id}` }).click();
		await page.getByRole('region', { name: 'Pending proposals' }).getByText(/messages change class or expiry/).waitFor();
		// Editing: the answer about the last text goes; a text that does not
		// parse cannot be proposed.
		await editor.fill(`${text}\n`);
		await ok.waitFor({ state: 'detached' });
		await editor.fill(text.replace('default: retain 6y', 'default: retain 6q'));
		await page.locator('#policy-syntax').filter({ hasText: /^✗/ }).waitFor();
		assert.equal(await editor.getAttribute('aria-invalid'), 'true');
		assert.ok(await page.getByRole('button', { name: 'Propose…' }).isDisabled(), 'no proposal of a text that does not parse');
		// A proposal the server refuses (the text in force): said in the dialog.
		await editor.fill(text);
		await page.locator('#policy-syntax').filter({ hasText: '✓' }).waitFor();
		await page.getByRole('button', { name: 'Propose…' }).click();
		await dlg.getByLabel('Reason for the change').fill('no change');
		await dlg.getByRole('button', { name: 'Propose' }).click();
		await dlg.getByRole('alert').waitFor();
		await dlg.getByRole('button', { name: 'Cancel' }).click();
		await assertAxe(page, 'policy with a pending proposal');
	});

	await t.test('policy: notices leave the address; a decision adds no history entry', async () => {
		await go(page, 'policy');
		const pending = page.getByRole('region', { name: 'Pending policy proposals' });
		const withdraw = pending.getByRole('button', { name: /^Withdraw #\d+$/ }).first();
		await withdraw.waitFor();
		const before = await page.evaluate(() => history.length);
		await listen(page);
		const wid = /#(\d+)/.exec(await withdraw.innerText())[1];
		await withdraw.click();
		const dlg = page.getByRole('dialog');
		await dlg.getByLabel('Your reason').fill('not needed after all');
		await dlg.getByRole('button', { name: 'Withdraw' }).click();
		await dlg.waitFor({ state: 'detached' });
		// One's own proposal is withdrawn, not "rejected".
		await heard(page, new RegExp(`^Retention policy #${wid} withdrawn\\.`));
		assert.ok(!(await said(page)).some((t) => /rejected/.test(t)), `not "rejected": ${await said(page)}`);
		await pending.getByText('Nothing waits for approval.').waitFor();
		assert.doesNotMatch(page.url(), /[?&]t=/);
		assert.equal(await page.evaluate(() => history.length), before, 'no history entry for the decision');
		// A policy in force at once (the server's answer, as for a longer
		// retention): the notice shows, the address keeps no trace of it.
		await page.route('**/api/v1/policy/proposals', (route) => route.fulfill({ status: 201, json: { state: 'applied', version: 99 } }));
		const editor = page.getByLabel('Policy text');
		await editor.fill(`${await editor.inputValue()}\n`);
		await page.locator('#policy-syntax').filter({ hasText: '✓' }).waitFor();
		await page.getByRole('button', { name: 'Propose…' }).click();
		await dlg.getByLabel('Reason for the change').fill('longer');
		await dlg.getByRole('button', { name: 'Propose' }).click();
		await page.locator('main').getByText('Policy version 99 is in force').waitFor();
		await heard(page, /^Policy version 99 is in force: it shortens no retention/);
		assert.doesNotMatch(page.url(), /applied=/);
		assert.equal(await page.evaluate(() => history.length), before, 'no history entry for the proposal');
		await page.unroute('**/api/v1/policy/proposals');
		await page.reload();
		await page.getByRole('heading', { name: /^In force: version/ }).waitFor();
		assert.equal(await page.getByText('Policy version 99 is in force').count(), 0, 'no notice after a reload');
	});

	await t.test('charts: whole-number axes, "Nothing yet" when all zero, large values fit', async () => {
		const growth = (v) => Array.from({ length: 30 }, (_, i) => ({ day: `2026-11-${String(i + 1).padStart(2, '0')}`, messages: v(i), bytes: 0 }));
		const ticks = () => page.getByRole('img', { name: /Messages archived per day/ }).evaluate((svg) => [...svg.querySelectorAll(':scope > text')]
			.filter((t) => t.getAttribute('text-anchor') === 'end').map((t) => ({ text: t.textContent, left: t.getBBox().x })));
		for (const [name, v, want] of [['zero', () => 0, ['0', '1', '2', '3', '4']],
			['small', (i) => (i === 3 ? 2 : 0), ['0', '1', '2', '3', '4']],
			['huge', (i) => (i === 3 ? 1e9 : 0), null]]) {
			await page.route('**/api/v1/status', async (route) => {
				const res = await route.fetch();
				const st = await res.json();
				return route.fulfill({ response: res, json: { ...st, growth: growth(v) } });
			});
			await go(page, 'approvals');
			await go(page, 'dashboard');
			const chart = page.getByRole('img', { name: /Messages archived per day/ });
			await chart.waitFor();
			const t = await ticks();
			if (want) assert.deepEqual(t.map((x) => x.text), want, `${name}: the axis`);
			for (const x of t) assert.ok(x.left >= 0, `${name}: the label ${x.text} is not cut (${x.left})`);
			if (name === 'huge') assert.match(t[t.length - 1].text, /^\d+\s?(B|bn)$/, 'a short label for a large value');
			assert.equal(await chart.getByText('Nothing yet', { exact: true }).count(), name === 'zero' ? 1 : 0, `${name}: "Nothing yet"`);
			if (name === 'zero') await shots(page, 'dashboard-nothing-yet');
			await page.unroute('**/api/v1/status');
		}
		await assertAxe(page, 'dashboard with a chart of large values');
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
