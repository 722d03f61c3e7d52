// Every page of every role (the links of its navigation): axe-core finds no
// serious or critical violation, the page loads nothing from elsewhere and
// raises no CSP violation, it is usable by keyboard (each control reached
// by Tab shows a focus ring), and a screenshot at 1280 and 390 px goes to
// build/web-shots/ROLE-PAGE-WIDTH.png. Also: a role's navigation holds only
// its pages, and a page of another role's falls back to the dashboard.
import test from 'node:test';
import assert from 'node:assert/strict';
import { launch, openPage, signIn, URL_BASE, shots, assertAxe, assertClean, settled, USERS } from './lib/env.mjs';

const NAV = {
	legal: ['Dashboard', 'Search', 'Matters', 'Approvals'],
	compliance: ['Dashboard', 'Audit trail', 'Integrity', 'Retention policy', 'Approvals', 'Users'],
	admin: ['Dashboard', 'Retention policy', 'Approvals', 'Accounts', 'Users'],
};

for (const role of ['legal', 'compliance', 'admin']) {
	const user = Object.keys(USERS).find((u) => USERS[u] === role);
	test(`every ${role} page: axe, keyboard focus, screenshots`, async (t) => {
		const browser = await launch();
		t.after(() => browser.close());
		const { page, rec } = await openPage(browser);
		await signIn(page, user);
		const nav = page.getByRole('navigation', { name: 'Main' });
		assert.deepEqual(await nav.getByRole('link').allInnerTexts(), NAV[role], `${role}'s navigation`);
		for (const name of NAV[role]) {
			await t.test(name, async () => {
				await nav.getByRole('link', { name }).click();
				await page.locator('main h1').first().waitFor();
				await settled(page);
				await assertAxe(page, `${role} ${name}`);
				// Keyboard: the first controls reached by Tab have a visible outline.
				await page.locator('main').focus();
				for (let i = 0; i < 3; i += 1) {
					await page.keyboard.press('Tab');
					const ring = await page.evaluate(() => {
						const el = document.activeElement;
						const cs = getComputedStyle(el);
						return el === document.body || (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) >= 2);
					});
					assert.ok(ring, `${role} ${name}: focus is visible on Tab ${i + 1}`);
				}
				await page.evaluate(() => document.activeElement && document.activeElement.blur());
				await shots(page, `${role}-${name.toLowerCase().replace(/\s+/g, '-')}`, { dark: name === 'Dashboard',
					doc: role === 'compliance' && name === 'Dashboard' ? 'dashboard-dark' : null, docDark: true });
			});
		}
		await t.test('another role\'s page falls back to the dashboard', async () => {
			const foreign = { admin: 'search', legal: 'users', compliance: 'accounts' }[role];
			await page.goto(`${URL_BASE}/#/${foreign}`);
			await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
		});
		assertClean(rec, `${role} pages`);
	});
}
