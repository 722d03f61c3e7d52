// The compliance officer's whole job in the browser (issue 14): the audit
// trail with filters and an entry's proof, who viewed a message, an audit
// export that `popvault verify-bundle` accepts, the logs' anchors on the
// dashboard, integrity (verify, keys, checkpoint history), and approving a hold release a legal user asked for
// (the two-person rule); refusing a legal account an admin asked to open
// ("Account access"), which the read-only Users page then shows.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { launch, openPage, signIn, go, RUN_DIR, PV_BIN, PW, shots, assertAxe, assertClean, assertUtcTimes, pv, USERS,
	listen, heard, description } from './lib/env.mjs';

const compliance = Object.keys(USERS).find((u) => USERS[u] === 'compliance');
const admin = Object.keys(USERS).find((u) => USERS[u] === 'admin');
const legal2 = 'tess';

test('compliance: audit trail, who viewed, audit export, integrity, approve a hold release, refuse account access', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());

	// A hold a legal user will ask to release (placed on the command line:
	// holds are the legal flow's part), then that user, in the browser,
	// views message 3 and asks for the release.
	pv('hold', 'add', 'Release me', '--query', 'from:carol', '--note', 'for the approval test');
	const other = await openPage(browser);
	await signIn(other.page, legal2);
	const asked = await other.page.evaluate(async () => {
		const me = await (await fetch('/api/v1/me')).json();
		const post = (p, b) => fetch(p, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf }, body: JSON.stringify(b) });
		// Opening a message in the page reads its metadata, proof, parts
		// and body: an audit entry each.
		const view = await fetch('/api/v1/messages/3');
		for (const p of ['proof', 'parts', 'html']) await fetch(`/api/v1/messages/3/${p}`);
		const rel = await post('/api/v1/holds/Release%20me/release', { reason: 'matter closed' });
		return { view: view.status, release: rel.status };
	});
	await other.context.close();

	// An admin adds a legal user in the web: the account waits for a
	// compliance officer's approval.
	const adm = await openPage(browser);
	await signIn(adm.page, admin);
	const uma = await adm.page.evaluate(async (pw) => {
		const me = await (await fetch('/api/v1/me')).json();
		const res = await fetch('/api/v1/users', { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': me.csrf },
			body: JSON.stringify({ name: 'uma', role: 'legal', password: pw }) });
		return { status: res.status, access: (await res.json()).access };
	}, PW);
	await adm.context.close();
	assert.equal(uma.status, 201);
	assert.equal(uma.access.state, 'pending');
	const umaId = uma.access.approval;

	const { page, rec } = await openPage(browser);
	await signIn(page, compliance);

	await t.test('users: read-only, who holds which role; each account\'s changes a link away', async () => {
		await go(page, 'users');
		const users = page.getByRole('region', { name: 'Users' });
		const row = users.getByRole('row', { name: new RegExp(`^${legal2}\\b`) });
		await row.getByText('Legal', { exact: true }).waitFor();
		await page.getByText('A legal or compliance account an administrator set up opens once a compliance officer that administrator did not set up approves it (Approvals).').waitFor();
		// The account an admin added waits, said in the list too.
		await users.getByRole('row', { name: /^uma\b/ }).getByRole('link', { name: `Account access waits for approval #${umaId}`, exact: true }).waitFor();
		assert.equal(await page.getByRole('button', { name: 'Add user' }).count(), 0, 'no form to add users');
		assert.equal(await users.getByRole('button').count(), 0, 'no button in the list: every change is the admin\'s');
		await assertAxe(page, 'users, read-only');
		await shots(page, 'users-compliance');
		await row.getByRole('link', { name: `Account changes of ${legal2} in the audit trail` }).click();
		await page.waitForURL(/#\/audit\?object=user%3Dtess/);
		const entries = page.getByRole('region', { name: /Audit entries/ });
		await entries.getByText('user-add', { exact: true }).first().waitFor();
	});

	await t.test('refuse account access an admin asked for: the account stays shut, the Users page says so', async () => {
		await go(page, 'approvals');
		await listen(page);
		const row = page.getByRole('region', { name: 'Pending approvals' }).getByRole('row', { name: new RegExp(`^${umaId} Account access`) });
		await row.getByText('Account: uma').waitFor();
		await row.getByText(`let uma sign in with the role legal (reads mail): account and password set by web:${admin}`).waitFor();
		await row.getByRole('button', { name: `Reject #${umaId}` }).click();
		const dlg = page.getByRole('dialog', { name: `Reject account access #${umaId}?` });
		assert.match(await description(dlg), /^Account: uma/);
		await dlg.getByLabel('Your reason').fill('nobody in legal knows uma');
		await dlg.getByRole('button', { name: 'Reject' }).click();
		await heard(page, new RegExp(`^Account access #${umaId} rejected\\.$`));
		await row.waitFor({ state: 'detached' });
		await page.getByRole('region', { name: 'Decided approvals' }).getByRole('row', { name: new RegExp(`^${umaId} Account access`) })
			.getByText('nobody in legal knows uma').waitFor();
		await go(page, 'users');
		const u = page.getByRole('region', { name: 'Users' }).getByRole('row', { name: /^uma\b/ });
		await u.getByRole('link', { name: `Account access refused (approval #${umaId})`, exact: true }).waitFor();
		await u.getByText('Shut until an administrator asks again.').waitFor();
		await assertAxe(page, 'users, read-only, access refused');
		await shots(page, 'users-compliance-access-refused');
		const shut = await page.evaluate(async (pw) => (await fetch('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' },
			body: JSON.stringify({ user: 'uma', password: pw }) })).status, PW);
		assert.equal(shut, 401, 'uma cannot sign in');
	});

	await t.test('audit trail: filters, paging, an entry with its proof', async () => {
		await go(page, 'audit');
		await page.getByRole('heading', { name: /^\d+ entr(y|ies)$/ }).waitFor();
		await page.getByLabel('Type').fill('login');
		await page.getByLabel('Actor').fill(`web:${legal2}`);
		await page.getByRole('button', { name: 'Apply filters' }).click();
		await page.waitForURL(/type=login/);
		const n = pv('audit', 'list', '--type', 'login', '--actor', `web:${legal2}`, '--json').split('\n').filter(Boolean).length;
		await page.getByRole('heading', { name: `${n} ${n === 1 ? 'entry' : 'entries'}` }).waitFor();
		const first = page.getByRole('button', { name: /^Entry \d+: details and proof$/ }).first();
		await first.click();
		const dlg = page.getByRole('dialog');
		await dlg.getByText(`web:${legal2}`).first().waitFor();
		const [dl] = await Promise.all([page.waitForEvent('download'), dlg.getByRole('link', { name: /inclusion proof/ }).click()]);
		const proof = path.join(RUN_DIR, 'audit-entry.proof');
		await dl.saveAs(proof);
		assert.match(execFileSync('cat', [proof], { encoding: 'utf8' }), /^c2sp\.org\/tlog-proof@v1\n/);
		await shots(page, 'audit-entry');
		await dlg.getByRole('button', { name: 'Close' }).click();
		await assertAxe(page, 'audit trail');
		await shots(page, 'audit');
	});

	await t.test('audit trail: "To" includes the minute it names', async () => {
		const logins = pv('audit', 'list', '--type', 'login', '--actor', `web:${legal2}`, '--json').split('\n').filter(Boolean).map((l) => JSON.parse(l));
		const e = logins[logins.length - 1];
		const minute = e.time.slice(0, 16);
		await go(page, 'audit');
		await page.getByLabel('Type').fill('login');
		await page.getByLabel('Actor').fill(`web:${legal2}`);
		await page.getByLabel('To (UTC)').fill(minute);
		await page.getByText('To the end of this minute, which is included.').waitFor();
		await page.getByRole('button', { name: 'Apply filters' }).click();
		await page.waitForURL(/type=login/);
		assert.match(page.url(), new RegExp(`until=${encodeURIComponent(`${minute}:59Z`)}`), 'until is the end of the minute');
		const n = logins.filter((x) => x.time <= `${minute}:59Z`).length;
		await page.getByRole('heading', { name: `${n} ${n === 1 ? 'entry' : 'entries'}` }).waitFor();
		await page.getByRole('button', { name: `Entry ${e.seq}: details and proof` }).waitFor();
		// The field shows the minute again, as typed.
		await page.reload();
		await page.getByRole('button', { name: `Entry ${e.seq}: details and proof` }).waitFor();
		assert.equal(await page.getByLabel('To (UTC)').inputValue(), minute);
	});

	await t.test('audit trail paging: pages on page boundaries, the labels right on each', async () => {
		const count = () => pv('audit', 'list', '--json').split('\n').filter(Boolean).length;
		if (count() <= 100) {
			// More than two pages: the legal user reads some messages (one
			// audit entry each).
			const reader = await openPage(browser);
			await signIn(reader.page, legal2);
			await reader.page.evaluate(async () => { for (let i = 4; i <= 62; i += 1) await fetch(`/api/v1/messages/${i}`); });
			await reader.context.close();
		}
		// A total that is a multiple of the page size would hide misaligned pages.
		if (count() % 50 === 0) await page.evaluate(() => fetch('/api/v1/session', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"user":"nobody","password":"wrong password"}' }));
		await go(page, 'audit');
		const total = count();
		assert.ok(total > 50, `more than one page of entries (${total})`);
		const pages = Math.ceil(total / 50);
		const pager = page.getByRole('navigation', { name: 'Pages', exact: true });
		const at = async (p) => {
			const first = (p - 1) * 50 + 1;
			const last = Math.min(p * 50, total);
			await pager.getByText(`${first}–${last} of ${total} entries`).waitFor();
			await pager.getByText(`page ${p} of ${pages}`).waitFor();
			assert.equal(await pager.getByRole('button', { name: 'Next →' }).isDisabled(), p === pages, `Next on page ${p}`);
			assert.equal(await pager.getByRole('button', { name: '← Previous' }).isDisabled(), p === 1, `Previous on page ${p}`);
		};
		await at(pages);
		for (let p = pages - 1; p >= 1; p -= 1) {
			await pager.getByRole('button', { name: '← Previous' }).click();
			await at(p);
		}
		await pager.getByRole('button', { name: 'Next →' }).click();
		await at(2);
		await go(page, 'audit');
	});

	await t.test('who viewed this message: full width, entries grouped by actor and minute', async () => {
		assert.equal(asked.view, 200, 'the legal user viewed message 3');
		await page.getByLabel('Message number').fill('3');
		await page.getByRole('button', { name: 'Show who viewed it' }).click();
		const region = page.getByRole('region', { name: 'Accesses to message 3' });
		await region.getByText(`web:${legal2}`).first().waitFor();
		const views = pv('audit', 'list', '--type', 'view', '--actor', `web:${legal2}`, '--json').split('\n').filter(Boolean)
			.map((l) => JSON.parse(l)).filter((e) => /(^| )message=3( |$)/.test(e.object));
		assert.ok(views.length >= 4, `the page's four reads are audited (${views.length})`);
		const all = JSON.parse(await page.evaluate(async () => JSON.stringify(await (await fetch('/api/v1/audit/who-viewed?message=3')).json())));
		await page.getByText(new RegExp(`^${all.total} audit entries for message 3, in \\d+ groups?`)).waitFor();
		// tess's views: one group a minute, their counts adding up.
		const rows = await region.getByRole('row').filter({ hasText: `views by web:${legal2}` }).allInnerTexts();
		assert.ok(rows.length >= 1 && rows.length <= 2, `grouped: ${rows}`);
		const n = rows.map((r) => Number(/(\d+) views by/.exec(r)[1])).reduce((a, b) => a + b, 0);
		assert.equal(n, views.length, 'every view is in a group');
		// Each entry is there to open, one button each.
		assert.equal(await region.getByRole('button', { name: /^Entry \d+: details and proof$/ }).count(), all.total);
		// Full width: as wide as the filters card above it.
		const w = await page.evaluate(() => {
			const card = document.getElementById('who-viewed').closest('.card');
			return { card: card.getBoundingClientRect().width, main: document.querySelector('main form.card').getBoundingClientRect().width };
		});
		assert.ok(w.card >= w.main - 2, `full width: ${JSON.stringify(w)}`);
		await page.getByText(/^All \d+ audit entries, one by one$/).click();
		await page.getByRole('region', { name: 'Audit entries for message 3' }).getByText(`web:${legal2}`).first().waitFor();
		await assertAxe(page, 'who viewed');
		await shots(page, 'audit-who-viewed');
	});

	await t.test('export the audit trail and verify the bundle', async () => {
		await page.getByRole('button', { name: 'Export audit bundle' }).click();
		const link = page.getByRole('link', { name: /^Download audit bundle/ });
		await link.waitFor({ timeout: 60000 });
		const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
		const file = path.join(RUN_DIR, dl.suggestedFilename());
		await dl.saveAs(file);
		const vkey = pv('checkpoint', '--log', 'audit', '--vkey').trim();
		const v = spawnSync(PV_BIN, ['verify-bundle', file, '--vkey', vkey], { encoding: 'utf8', cwd: '/' });
		assert.match(v.stdout, /verify-bundle: OK/, `verify-bundle: ${v.stdout}${v.stderr}`);
		await shots(page, 'audit-export');
		// The job is in the address: a reload, or another page and Back,
		// shows it again with its download and the command.
		const id = /^Download audit bundle (\d+)$/.exec(await link.innerText())[1];
		assert.match(page.url(), new RegExp(`[?&]export=${id}(&|$)`));
		await page.reload();
		await page.getByRole('link', { name: `Download audit bundle ${id}` }).waitFor();
		await page.locator('pre', { hasText: 'popvault verify-bundle' }).waitFor();
		await go(page, 'integrity');
		await page.goBack();
		await page.getByRole('link', { name: `Download audit bundle ${id}` }).waitFor();
		await assertAxe(page, 'audit export after a reload');
	});

	await t.test('audit export: only the time range applies, said so; personal data and format as chosen', async () => {
		await go(page, `audit?type=login&since=${encodeURIComponent('2020-01-01T00:00:00Z')}`);
		const card = page.getByRole('region', { name: 'Export' });
		await card.getByText('the actor, type and object filters do not apply to a bundle').waitFor();
		await card.getByText('Your type filter is not applied here: the bundle holds every entry of the time range.').waitFor();
		await card.getByLabel('Format').selectOption('zip');
		await card.getByLabel(/Include the personal data/).uncheck();
		const [req] = await Promise.all([page.waitForRequest((r) => r.method() === 'POST' && /\/api\/v1\/audit\/exports$/.test(r.url())),
			card.getByRole('button', { name: 'Export audit bundle' }).click()]);
		assert.deepEqual(JSON.parse(req.postData()), { personal: false, format: 'zip', since: '2020-01-01T00:00:00Z' });
		const link = card.getByRole('link', { name: /^Download audit bundle \d+$/ });
		await link.waitFor({ timeout: 60000 });
		assert.match(await link.getAttribute('download'), /\.zip$/);
		await card.getByText(/without the personal data, zip/).waitFor();
		await assertAxe(page, 'audit export with options');
		await shots(page, 'audit-export-options');
	});

	await t.test('dashboard: each log\'s anchor outside the appliance, and a witness that failed', async () => {
		// tests/e2e/web.t had both logs time-stamped by a real TSA, with a
		// witness configured that never answers.
		await go(page, 'dashboard');
		const facts = page.getByRole('region', { name: 'Integrity' });
		for (const log of ['Archive log', 'Audit log']) {
			const line = facts.getByText(new RegExp(`^${log}: time-stamped`));
			await line.waitFor();
			assert.match(await line.textContent(), /\(\d+ entries, \d+ (s|min) ago\) current$/,
				`${log}: the newest time-stamp, what it covers, current`);
		}
		const failed = facts.locator('details', { hasText: 'failed' });
		assert.equal(await failed.count(), 2, 'each log says its last attempt failed');
		await failed.first().locator('summary').click();
		await failed.first().getByText(/witness\.test\/w1: .*127\.0\.0\.1/).waitFor();
		assert.equal(await page.getByText(/no recent anchor outside the appliance/).count(), 0,
			'fresh time-stamps: no stale warning');
		await assertAxe(page, 'dashboard with anchors');
		// Stale takes [anchor] stale_after (a minute at least) to happen for
		// real: the server's own answer, its archive log's anchor marked so.
		await page.route('**/api/v1/status', async (route) => {
			const res = await route.fetch();
			const st = await res.json();
			st.logs.archive.anchor.stale = true;
			await route.fulfill({ response: res, json: st });
		});
		await go(page, 'dashboard');
		const warn = page.getByRole('status').filter({ hasText: 'no recent anchor outside the appliance' });
		await warn.waitFor();
		assert.match(await warn.textContent(), /^The archive log has no recent anchor .* The last attempt failed: witness\.test\/w1: /);
		assert.match(await facts.getByText(/^Archive log: time-stamped/).textContent(), /stale$/);
		await page.unroute('**/api/v1/status');
		// Anchor now: the TSA stamps both logs again, the silent witness
		// fails, and each attempt is audited with the officer as actor.
		await go(page, 'dashboard');
		const before = pv('audit', 'list', '--type', 'anchor', '--actor', `web:${compliance}`, '--json').split('\n').filter(Boolean).length;
		const auditSize = () => page.evaluate(() => {
			const dt = [...document.querySelectorAll('main dl.facts dt')].find((d) => d.textContent === 'Audit log');
			return Number(dt.nextElementSibling.textContent.split(' ')[0].replace(/\D/g, ''));
		});
		const sizeBefore = await auditSize();
		await page.getByRole('button', { name: 'Anchor now' }).click();
		await facts.getByText(/Not every party answered/).waitFor({ timeout: 60000 });
		// The card is drawn anew: the audit log grew by the attempts.
		assert.ok(await auditSize() >= sizeBefore + 4, `the audit log's size is fresh: ${sizeBefore} → ${await auditSize()}`);
		assert.equal(await page.evaluate(() => document.activeElement.textContent), 'Anchor now', 'the focus stays on the button');
		assert.equal(await page.locator('#status').getAttribute('class'), 'status error', 'a failure is not announced in green');
		const failed2 = facts.locator('details', { hasText: 'failed' }).first();
		await failed2.locator('summary').click();
		await failed2.getByText(/witness\.test\/w1/).waitFor();
		const after = pv('audit', 'list', '--type', 'anchor', '--actor', `web:${compliance}`, '--json').split('\n').filter(Boolean)
			.map((l) => JSON.parse(l));
		assert.equal(after.length - before, 4, 'an audited attempt for each party and log');
		const tsa = after.filter((e) => /party=tsa/.test(e.object) && e.outcome === 'ok').map((e) => e.object.split(' ')[0]).sort();
		assert.deepEqual(tsa, ['log=archive', 'log=audit'], 'the TSA stamped both logs');
		await assertAxe(page, 'dashboard after anchoring');
		await shots(page, 'dashboard-anchored');
	});

	await t.test('integrity: verify, keys, checkpoint history, heartbeat', async () => {
		await go(page, 'integrity');
		await page.getByRole('button', { name: 'Start verify' }).click();
		await page.getByText(/^Verified: no problem found/).waitFor({ timeout: 60000 });
		await page.getByRole('button', { name: 'Copy archive key' }).first().waitFor();
		await page.getByRole('region', { name: 'archive checkpoints' }).waitFor();
		// The archive is minutes old: no 7 days of green.
		const hb = page.getByRole('region', { name: 'Heartbeat (last 7 days)' });
		await hb.getByText(/^The audit log began .*UTC: no data before it \(grey\)\.$/).waitFor();
		await hb.getByText('no gaps since then').waitFor();
		assert.equal(await hb.locator('svg rect.nodata').count(), 1);
		const desc = await hb.locator('svg desc').textContent();
		assert.match(desc, /^No data before .*, the log's first entry\./);
		await assertAxe(page, 'integrity');
		await shots(page, 'integrity');
	});

	await t.test('integrity: a failed verify shows its findings, in red', async () => {
		const fail = 'FAIL: message 34: blob 2a5d0b59548eb904… (pack 1 at 149752): content does not match its hash';
		await page.route('**/api/v1/verify', (route) => (route.request().method() === 'GET'
			? route.fulfill({ json: { id: 9, status: 'done', full: false, started_by: `web:${compliance}`, started: '2026-12-05T10:00:00Z',
				finished: '2026-12-05T10:00:04Z', progress: { elapsed_s: 4, problems: 1, notes: 1 },
				result: { ok: false, problems: 1, archive_leaves: 60, audit_leaves: 400, archive_checkpoints: 3, audit_checkpoints: 20,
					messages: 60, disposed: 0, blobs_checked: 60, blobs_decrypted: 0, orphan_blobs: 0, heartbeat_gaps: 0 },
				lines: ['note: checking 60 messages', fail], lines_truncated: false, error: null } })
			: route.continue()));
		try {
			await go(page, 'dashboard');
			await go(page, 'integrity');
			const notice = page.getByRole('alert').filter({ hasText: 'Verify found 1 problem:' });
			await notice.waitFor();
			await notice.getByText(fail).waitFor();
			assert.equal(await notice.getByText('note: checking').count(), 0, 'only the FAIL lines in the notice');
			assert.equal(await page.locator('details', { hasText: 'What verify said' }).getAttribute('open'), '', 'what verify said is open');
			await page.locator('#status').getByText('Verify found problems.').waitFor();
			assert.equal(await page.locator('#status').getAttribute('class'), 'status error', 'announced as a failure');
			await assertAxe(page, 'a failed verify');
			await shots(page, 'integrity-verify-failed');
		} finally {
			await page.unroute('**/api/v1/verify');
		}
	});

	await t.test('approve the hold release (two-person rule)', async () => {
		assert.equal(asked.release, 202, 'the legal user asked for the release');
		await go(page, 'approvals');
		const pending = page.getByRole('region', { name: 'Pending approvals' });
		const row = pending.getByRole('row', { name: /Hold release/ });
		await row.getByRole('button', { name: /^Approve #\d+$/ }).click();
		const dlg = page.getByRole('dialog');
		await dlg.getByLabel('Your reason').fill('counsel confirmed the matter is closed');
		await shots(page, 'approval-dialog');
		await dlg.getByRole('button', { name: 'Approve' }).click();
		await row.waitFor({ state: 'detached' });
		assert.doesNotMatch(pv('hold', 'list'), /Release me/, 'the hold is released');
		// History: only decided ones, counted as such, each with its time.
		const decided = await page.evaluate(async () => (await (await fetch('/api/v1/approvals?state=decided')).json()).total);
		await page.getByRole('navigation', { name: 'Pages', exact: true }).getByText(`1–${decided} of ${decided} decided proposals`).waitFor();
		const hist = page.getByRole('region', { name: 'Decided approvals' });
		const done = hist.getByRole('row', { name: /Hold release/ }).filter({ hasText: 'counsel confirmed' });
		await done.getByText(/approved by web:/).waitFor();
		await done.getByRole('cell').last().locator('time').waitFor();
		assert.equal(await hist.getByText('pending').count(), 0);
		await assertAxe(page, 'approvals');
		await shots(page, 'approvals');
	});
	await t.test('times in UTC, named, whatever the browser\'s zone', async () => {
		const ny = await openPage(browser, { timezoneId: 'America/New_York' });
		await signIn(ny.page, compliance);
		for (const [where, ready] of [['audit', 'button[aria-label$="details and proof"]'], ['integrity', 'svg.chart'],
			['approvals', 'time'], ['policy', 'time']]) {
			await go(ny.page, where);
			await ny.page.locator(`main ${ready}`).first().waitFor();
			await assertUtcTimes(ny.page, where);
		}
		await go(ny.page, 'integrity');
		const labels = await ny.page.locator('section', { hasText: 'Heartbeat' }).locator('svg text').allTextContents();
		for (const l of labels) assert.match(l, /UTC$/, `the time line's ends in UTC: ${l}`);
		await ny.context.close();
	});
	assertClean(rec, 'the compliance pages');
});
