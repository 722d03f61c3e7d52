// What every browser test needs: the server tests/e2e/web.t started (from
// the environment), Debian's Chromium through playwright-core, a signed-in
// page that records every request, console message, dialog and CSP
// violation, axe-core, and screenshots at 1280 and 390 px.

import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';

const require = createRequire(import.meta.url);

export const URL_BASE = process.env.PV_URL;
export const PW = process.env.PV_PASSWORD;
export const USERS = JSON.parse(process.env.PV_USERS || '{}');
export const SHOTS = process.env.PV_SHOTS;
export const DATA = process.env.PV_DATA;
export const PV_BIN = process.env.PV_BIN;
export const RUN_DIR = process.env.PV_RUN;
export const DOVECOT = JSON.parse(process.env.PV_DOVECOT || '{}');

if (!URL_BASE) {
	throw new Error('tests/web runs under tests/e2e/web.t (make test), which starts the server');
}
const ORIGIN = new URL(URL_BASE).origin;

export async function launch() {
	return chromium.launch({
		executablePath: process.env.PV_CHROMIUM || '/usr/bin/chromium',
		headless: true,
		// playwright-core gives every launch a fresh temporary profile
		// (its own --user-data-dir), removed at close.
		args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking',
			'--disable-component-update', '--disable-sync', '--no-first-run',
			'--disable-default-apps', '--disable-extensions'],
	});
}

// A new context and page with everything that happens in it recorded:
// rec.requests (URLs), rec.dialogs, rec.csp (securitypolicyviolation
// events of the app's pages), rec.console (errors), rec.pageErrors.
// timezoneId: the browser's own zone (the app shows UTC whatever it is).
export async function openPage(browser, { width = 1280, height = 860, scheme = 'light', timezoneId = 'UTC' } = {}) {
	const context = await browser.newContext({
		ignoreHTTPSErrors: true, // the appliance's self-signed certificate
		viewport: { width, height },
		colorScheme: scheme,
		acceptDownloads: true,
		locale: 'en-GB',
		timezoneId,
	});
	const rec = { requests: [], dialogs: [], csp: [], console: [], pageErrors: [] };
	context.on('request', (r) => rec.requests.push(r.url()));
	await context.exposeBinding('__pvCsp', (_src, v) => { rec.csp.push(v); });
	// Runs before the app's own scripts in every document (an init script
	// is injected by the browser, not subject to the page's CSP).
	await context.addInitScript(() => {
		document.addEventListener('securitypolicyviolation', (e) => {
			window.__pvCsp({ directive: e.violatedDirective, blocked: e.blockedURI, doc: e.documentURI, sample: e.sample });
		});
	});
	const page = await context.newPage();
	page.on('dialog', (d) => { rec.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
	page.on('console', (m) => { if (m.type() === 'error') rec.console.push(m.text()); });
	page.on('pageerror', (e) => rec.pageErrors.push(String(e)));
	page.setDefaultTimeout(15000);
	return { context, page, rec };
}

// Only requests to the appliance itself (and the browser's own data: and
// blob: URLs) were made.
export function foreignRequests(rec) {
	return rec.requests.filter((u) => !u.startsWith(`${ORIGIN}/`) && !u.startsWith('data:') && !u.startsWith('blob:') && u !== 'about:blank');
}

// newPassword: the user's own, asked for when password is a one-time one
// (set by an admin in the web).
export async function signIn(page, user, { password = PW, newPassword = null } = {}) {
	await page.goto(`${URL_BASE}/`);
	await page.getByLabel('User name').fill(user);
	await page.getByLabel('Password').fill(password);
	await page.getByRole('button', { name: 'Sign in' }).click();
	if (newPassword) {
		await page.getByLabel('New password', { exact: true }).fill(newPassword);
		await page.getByLabel('New password again').fill(newPassword);
		await page.getByRole('button', { name: 'Sign in' }).click();
	}
	await page.getByRole('button', { name: 'Sign out' }).waitFor();
}

export async function go(page, hash) {
	await page.goto(`${URL_BASE}/#/${hash}`);
	await page.locator('main h1').first().waitFor();
}

// Waits until no "Loading…" placeholder is left in <main>.
export async function settled(page) {
	await page.waitForFunction(() => !document.querySelector('main .loading') && !/Loading…/.test(document.querySelector('main').textContent));
}

const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// axe-core on the page as it is now: the serious and critical violations
// (an empty list is what a test asserts).
export async function axe(page) {
	// evaluate() runs through the DevTools protocol, which the page's CSP
	// does not govern; the app's own pages still load nothing inline.
	await page.evaluate(AXE);
	const res = await page.evaluate(async () => {
		// eslint-disable-next-line no-undef
		const r = await axe.run(document, { resultTypes: ['violations'] });
		return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
			nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
	});
	return res.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

export async function assertAxe(page, what) {
	const bad = await axe(page);
	assert.deepEqual(bad, [], `axe on ${what}: ${JSON.stringify(bad, null, 1)}`);
}

// Screenshots of the page as it is, at 1280 and at 390 px wide (full page),
// into build/web-shots/NAME-1280.png and NAME-390.png; light, and dark too
// when asked.
// doc: also a 1100x700 view of the top of the page, light (dark with
// docDark), as build/web-shots/doc-NAME.png, for docs/screenshots/.
export async function shots(page, name, { dark = false, doc = null, docDark = false } = {}) {
	mkdirSync(SHOTS, { recursive: true });
	const vp = page.viewportSize();
	if (doc) {
		await page.setViewportSize({ width: 1100, height: 700 });
		await page.emulateMedia({ colorScheme: docDark ? 'dark' : 'light' });
		await page.waitForTimeout(60);
		await page.screenshot({ path: path.join(SHOTS, `doc-${doc}.png`) });
		await page.emulateMedia({ colorScheme: 'light' });
	}
	for (const w of [1280, 390]) {
		await page.setViewportSize({ width: w, height: w === 390 ? 844 : 860 });
		await page.waitForTimeout(60);
		await page.screenshot({ path: path.join(SHOTS, `${name}-${w}.png`), fullPage: true });
	}
	if (dark) {
		await page.emulateMedia({ colorScheme: 'dark' });
		await page.setViewportSize({ width: 1280, height: 860 });
		await page.screenshot({ path: path.join(SHOTS, `${name}-1280-dark.png`), fullPage: true });
		await page.emulateMedia({ colorScheme: 'light' });
	}
	await page.setViewportSize(vp);
}

// popvault on the test archive (the CLI: a second user's action, checks).
export function pv(...args) {
	return execFileSync(PV_BIN, ['--data', DATA, ...args], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
}

export function pvRun(...args) {
	return spawnSync(PV_BIN, ['--data', DATA, ...args], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
}

export function auditEntries(...filter) {
	return pv('--json', 'audit', 'list', ...filter).split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

// Every <time> in <main> is shown in UTC and says so: its text ends in
// "UTC" (a day: "(UTC)"), and a time of day is its datetime's in UTC,
// whatever the browser's own zone.
export async function assertUtcTimes(page, what) {
	const times = await page.locator('main time').evaluateAll((ts) => ts.map((t) => ({ text: t.textContent, dt: t.getAttribute('datetime') })));
	assert.ok(times.length > 0, `${what}: some times shown`);
	for (const { text, dt } of times) {
		assert.match(text, /UTC\)?$/, `${what}: "${text}" names its zone`);
		const m = /(\d{1,2}):(\d{2})/.exec(text);
		if (!m) continue;
		const d = new Date(dt);
		assert.equal(`${Number(m[1])}:${m[2]}`, `${d.getUTCHours()}:${String(d.getUTCMinutes()).padStart(2, '0')}`,
			`${what}: "${text}" is ${dt} in UTC`);
	}
}

// No CSP violation, page error or dialog so far on the app's pages.
export function assertClean(rec, what) {
	assert.deepEqual(rec.csp, [], `CSP violations on ${what}`);
	assert.deepEqual(rec.pageErrors, [], `page errors on ${what}`);
	assert.deepEqual(rec.dialogs, [], `dialogs on ${what}`);
	assert.deepEqual(foreignRequests(rec), [], `requests to other hosts on ${what}`);
}

// What announce() puts in the page's live region (#status), every text,
// one replaced a moment later too: listen(page) once (it lasts across
// reloads), then heard(page, /re/) waits for a text, said(page) lists them.
function watchStatus() {
	if (window.__heard) return;
	window.__heard = [];
	const start = () => {
		const el = document.getElementById('status');
		if (!el) return;
		new MutationObserver(() => { if (el.textContent) window.__heard.push(el.textContent); })
			.observe(el, { childList: true, characterData: true, subtree: true });
	};
	if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
	else start();
}

export async function listen(page) {
	await page.addInitScript(watchStatus);
	await page.evaluate(watchStatus);
	await page.evaluate(() => { window.__heard.length = 0; });
}

export async function heard(page, re, { timeout = 30000 } = {}) {
	await page.waitForFunction(([src, flags]) => (window.__heard || []).some((t) => new RegExp(src, flags).test(t)),
		[re.source, re.flags], { timeout });
}

export async function said(page) {
	return page.evaluate(() => window.__heard || []);
}

// The text a dialog's aria-describedby points at ('' when it has none).
export async function description(dlg) {
	return dlg.evaluate((d) => {
		const ids = (d.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean);
		return ids.map((id) => (document.getElementById(id) || {}).textContent || '').join(' ').trim();
	});
}

// Whether the element the locator finds has the focus.
export async function focused(locator) {
	return locator.evaluate((el) => el === document.activeElement);
}
