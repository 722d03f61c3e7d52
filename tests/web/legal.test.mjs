// The legal team's whole job in the browser (issue 14): sign in, search
// with operators (syntax checked as you type, the exact total, keyboard
// paging), open a message and see its integrity mark, place a hold from the
// search, export a matter, download it, and `popvault verify-bundle` on the
// download passes with the keys the page shows.
import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { launch, openPage, signIn, go, URL_BASE, RUN_DIR, PV_BIN, shots, assertAxe, assertClean, pv, USERS } from './lib/env.mjs';

const legal = Object.keys(USERS).find((u) => USERS[u] === 'legal');

function cliTotal(q) {
	return JSON.parse(pv('--json', 'search', q, '--limit', '1')).total;
}

test('legal: search, message, hold, matter export verified', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec } = await openPage(browser);
	await signIn(page, legal);

	await t.test('search with operators, syntax checked as you type, exact total, paging', async () => {
		await go(page, 'search');
		const box = page.getByRole('searchbox', { name: 'Search' });
		await box.fill('(from:carol');
		await page.locator('#q-syntax').filter({ hasText: /✗ column \d+/ }).waitFor();
		assert.equal(await box.getAttribute('aria-invalid'), 'true');
		await box.fill('');
		await box.press('Enter');
		const total = cliTotal('');
		assert.ok(total > 50, `the archive has more than one page (${total})`);
		await page.getByRole('heading', { name: `${total} messages` }).waitFor();
		await page.getByText(`1–50 of ${total} messages`).first().waitFor();
		await assertAxe(page, 'search results');
		await shots(page, 'search', { dark: true, doc: 'search' });
		// Keyboard paging: PageDown in the results table.
		await page.getByRole('region', { name: 'Search results' }).focus();
		await page.keyboard.press('PageDown');
		await page.getByText(`51–${total} of ${total} messages`).first().waitFor();
		assert.match(page.url(), /offset=50/);
		await page.keyboard.press('PageUp');
		await page.getByText(`1–50 of ${total} messages`).first().waitFor();

		const q = 'has:attachment -from:nobody@example.invalid';
		await box.fill(q);
		await page.locator('#q-syntax').filter({ hasText: '✓' }).waitFor();
		await box.press('Enter');
		const n = cliTotal(q);
		await page.getByRole('heading', { name: `${n} message${n === 1 ? '' : 's'}` }).waitFor();
		// Sorting by relevance keeps the total.
		await page.getByLabel('Sort by').selectOption('date-asc');
		await page.waitForURL(/order=asc/);
		await page.getByRole('heading', { name: `${n} message${n === 1 ? '' : 's'}` }).waitFor();
	});

	await t.test('a total past the count\'s cap: "More than", Count all, paging goes on', async () => {
		// The server counts a total up to 10,000 (unit tests prove the cap
		// on both engines); an archive that big is too slow here, so the
		// browser's copy of the answer is rewritten as if the cap were 20.
		const total = cliTotal('');
		const back = page.url();
		const search = /\/api\/v1\/search\?/;
		await page.route(search, async (route) => {
			if (new URL(route.request().url()).searchParams.get('total') === 'exact') return route.continue();
			const res = await route.fetch();
			const j = await res.json();
			return route.fulfill({ response: res, json: { ...j, total: 20, total_exact: false } });
		});
		await go(page, 'search?all=1');
		await page.getByRole('heading', { name: 'More than 20 messages' }).waitFor();
		await page.getByText('1–50 of more than 20 messages').first().waitFor();
		await shots(page, 'search-more-than');
		// A full page: Next goes on past the count.
		await page.getByRole('region', { name: 'Search results' }).focus();
		await page.keyboard.press('PageDown');
		await page.getByText(`51–${total} of more than 20 messages`).first().waitFor();
		await assertAxe(page, 'search results, total not exact');
		await page.getByRole('button', { name: 'Count all' }).click();
		await page.waitForURL(/total=exact/);
		await page.getByRole('heading', { name: `${total} messages` }).waitFor();
		await page.getByText(`51–${total} of ${total} messages`).first().waitFor();
		await page.unroute(search);
		// back where the next test starts, its search answered
		await Promise.all([page.waitForResponse(search), page.goto(back)]);
		await page.getByRole('heading', { name: /^\d+ messages?$/ }).waitFor();
	});

	let messageId;
	await t.test('open a message: headers, body frame, parts, integrity mark, proof download', async () => {
		await page.locator('td.subject a').first().click();
		await page.getByRole('heading', { name: '✓ Integrity mark' }).waitFor();
		messageId = /message\/(\d+)/.exec(page.url())[1];
		const mark = await page.locator('section.integrity').innerText();
		assert.match(mark, /Exact bytes as received, leaf \d+ of the archive log, in checkpoint \d+ signed by \S+\+[0-9a-f]{8}/);
		const frame = page.frameLocator('iframe.mail');
		await frame.locator('body').waitFor();
		assert.equal(await page.locator('iframe.mail').getAttribute('sandbox'), '');
		const [dl] = await Promise.all([page.waitForEvent('download'),
			page.getByRole('link', { name: 'Download inclusion proof' }).click()]);
		const file = path.join(RUN_DIR, `proof-${messageId}`);
		await dl.saveAs(file);
		const text = execFileSync('cat', [file], { encoding: 'utf8' });
		assert.match(text, /^c2sp\.org\/tlog-proof@v1\n/);
		await assertAxe(page, 'message view');
		await shots(page, 'message', { doc: 'message' });
	});

	const matter = 'Smith v. Jones';
	await t.test('place a hold from the search (creating its matter)', async () => {
		await go(page, 'search?q=participant%3Acarol');
		await page.getByRole('heading', { name: /messages?$/ }).waitFor();
		const n = cliTotal('participant:carol');
		await page.getByRole('button', { name: 'Place hold…' }).click();
		const dlg = page.getByRole('dialog');
		await dlg.getByLabel('Matter').fill(matter);
		await dlg.getByLabel('Hold name').fill('Carol hold');
		await dlg.getByLabel('Note').fill('per counsel');
		await shots(page, 'search-hold-dialog');
		await dlg.getByRole('button', { name: 'Place hold' }).click();
		await page.getByText(`Hold “Carol hold” placed: it covers ${n} messages`).waitFor();
		assert.match(pv('hold', 'list'), /Carol hold/);
	});

	await t.test('save the search to the matter, export the matter, download and verify it', async () => {
		await page.getByRole('button', { name: 'Save to matter…' }).click();
		const dlg = page.getByRole('dialog');
		await dlg.getByLabel('Matter').fill(matter);
		await dlg.getByLabel('Search name').fill('carol mail');
		await dlg.getByRole('button', { name: 'Save search' }).click();
		await page.getByRole('link', { name: matter }).click();
		await page.getByRole('heading', { name: `Matter: ${matter}` }).waitFor();
		await page.getByRole('link', { name: 'Run “carol mail”' }).waitFor();
		await page.getByLabel('Bates prefix').fill('SMITH');
		await page.getByRole('button', { name: 'Start export' }).click();
		const link = page.getByRole('link', { name: /^Download export \d+$/ });
		await link.waitFor({ timeout: 60000 });
		await assertAxe(page, 'matter');
		await shots(page, 'matter');
		const [dl] = await Promise.all([page.waitForEvent('download'), link.click()]);
		const file = path.join(RUN_DIR, dl.suggestedFilename());
		await dl.saveAs(file);
		// The command the page gives the recipient, run on the download.
		const cmd = await page.locator('pre').first().innerText();
		const vkeys = [...cmd.matchAll(/--vkey '([^']+)'/g)].map((m) => m[1]);
		assert.ok(vkeys.length >= 1, `vkeys in: ${cmd}`);
		const v = spawnSync(PV_BIN, ['verify-bundle', file, ...vkeys.flatMap((k) => ['--vkey', k])],
			{ encoding: 'utf8', cwd: '/' });
		assert.match(v.stdout, /verify-bundle: OK/, `verify-bundle: ${v.stdout}${v.stderr}`);
	});

	await t.test('matters list', async () => {
		await go(page, 'matters');
		await page.getByRole('link', { name: matter }).waitFor();
		await assertAxe(page, 'matters');
		await shots(page, 'matters');
	});
	assertClean(rec, 'the legal pages');
	assert.ok(URL_BASE);
});
