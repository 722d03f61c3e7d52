// Hostile mail shown in the UI (issue 14): messages with <script>, onerror,
// javascript: links, SVG with script, meta refresh, CSS url() to a remote
// host, a tracking pixel, a form posting elsewhere, an SVG attachment with
// script and bidi overrides in the subject and a file name. Nothing runs
// (no dialog, no script in the frame), no request leaves for any host but
// the appliance (the browser's own request log), and the app's pages raise
// no CSP violation.
import test from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, signIn, go, shots, assertAxe, foreignRequests, USERS, URL_BASE } from './lib/env.mjs';

const legal = Object.keys(USERS).find((u) => USERS[u] === 'legal');
const BIDI = /[\u202a-\u202e\u2066-\u2069]/;

test('hostile mail: nothing runs, nothing leaves', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page, rec } = await openPage(browser);
	await signIn(page, legal);
	await go(page, 'search?q=HOSTILEMARK');
	await page.getByRole('heading', { name: '2 messages' }).waitFor();
	const subjects = await page.locator('td.subject a').allInnerTexts();
	assert.equal(subjects.length, 2);
	for (const s of subjects) assert.doesNotMatch(s, BIDI, `no bidi control in the listed subject ${JSON.stringify(s)}`);
	assert.ok(subjects.some((s) => s.startsWith('Invoice ')), 'the bidi subject is listed, its controls removed');
	await shots(page, 'hostile-search');

	const links = await page.locator('td.subject a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
	for (const [i, href] of links.entries()) {
		await page.goto(`${URL_BASE}/${href}`);
		await page.getByRole('heading', { name: '✓ Integrity mark' }).waitFor();
		const h1 = await page.locator('main h1').innerText();
		assert.doesNotMatch(h1, BIDI, 'no bidi control in the shown subject');
		const el = page.locator('iframe.mail');
		assert.equal(await el.getAttribute('sandbox'), '', 'the frame is sandboxed: no scripts, no same origin');
		const frame = await (await el.elementHandle()).contentFrame();
		await frame.waitForLoadState('load');
		const html = await frame.content();
		assert.match(html, /HOSTILEMARK/, 'the sanitised body is shown');
		assert.doesNotMatch(html, /<script|onerror=|onload=|javascript:|<svg|http-equiv|<form|<iframe|<object|url\(/i,
			'nothing active is left in the sanitised HTML');
		// The frame is an opaque origin that cannot run script: the app's
		// cookies and storage are out of its reach.
		const scripted = await frame.evaluate(() => typeof document.cookie === 'string' && document.cookie).catch(() => 'blocked');
		assert.ok(scripted === '' || scripted === 'blocked', `the frame sees no cookie (${scripted})`);
		const names = await page.locator('table').last().locator('td:nth-child(2)').allInnerTexts();
		for (const n of names) assert.doesNotMatch(n, BIDI, `no bidi control in the part name ${JSON.stringify(n)}`);
		await page.waitForTimeout(300);
		await assertAxe(page, `hostile message ${i + 1}`);
		await shots(page, `hostile-message-${i + 1}`);
	}
	// The SVG attachment is served only as a download, never rendered.
	const ids = links.map((l) => /message\/(\d+)/.exec(l)[1]);
	const att = await page.evaluate(async (ms) => {
		for (const m of ms) {
			const parts = await (await fetch(`/api/v1/messages/${m}/parts`)).json();
			const svg = parts.parts.find((p) => p.content_type === 'image/svg+xml');
			if (!svg) continue;
			const r = await fetch(`/api/v1/messages/${m}/parts/${svg.n}`);
			return { cd: r.headers.get('Content-Disposition'), type: r.headers.get('Content-Type'), nosniff: r.headers.get('X-Content-Type-Options') };
		}
		return null;
	}, ids);
	assert.ok(att, 'a hostile message has the SVG attachment');
	assert.match(att.cd, /^attachment;/);
	assert.equal(att.nosniff, 'nosniff');
	assert.doesNotMatch(att.type, /svg|html/);

	assert.deepEqual(rec.dialogs, [], 'no dialog opened');
	assert.deepEqual(foreignRequests(rec), [], 'no request to another host');
	assert.deepEqual(rec.csp, [], 'no CSP violation on the app pages');
	assert.deepEqual(rec.pageErrors, [], 'no page error');
});
