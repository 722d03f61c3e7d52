// API errors in words a user understands (issue 14): a bad query shows the
// parser's message; an audit store that cannot be written shows that
// nothing can be shown or changed (the server fails closed, 503
// audit_failed). The expired session is in session.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { launch, openPage, signIn, go, shots, USERS, DATA } from './lib/env.mjs';

const legal = Object.keys(USERS).find((u) => USERS[u] === 'legal');
const AUDIT_WORDS = 'The audit log cannot be written, so nothing can be shown or changed right now';

function chattr(flag, files) {
	return files.every((f) => spawnSync('chattr', [flag, f]).status === 0);
}

test('errors in words', async (t) => {
	const browser = await launch();
	t.after(() => browser.close());
	const { page } = await openPage(browser);
	await signIn(page, legal);

	await t.test('a bad query: the parser says what and where', async () => {
		await go(page, 'search?q=subject%3A(filing');
		const alert = page.getByRole('alert');
		await alert.waitFor();
		assert.match(await alert.innerText(), /The query does not parse: column \d+: expected '\)'/);
		await shots(page, 'error-bad-query');
	});

	await t.test('the audit store cannot be written: nothing shown, and the user is told why', async (tt) => {
		const db = path.join(DATA, 'catalog.db');
		const live = [db, `${db}-wal`].filter((f) => existsSync(f));
		if (process.getuid() !== 0 || !chattr('+i', live)) {
			chattr('-i', live);
			tt.skip('needs root and chattr +i');
			return;
		}
		try {
			await go(page, 'search?q=from%3Acarol');
			const alert = page.getByRole('alert');
			await alert.waitFor();
			assert.match(await alert.innerText(), new RegExp(AUDIT_WORDS));
			assert.equal(await page.locator('td.subject').count(), 0, 'no result is shown');
			await shots(page, 'error-audit-readonly');
		} finally {
			chattr('-i', live);
		}
		// Writable again: the same page works at once.
		await page.reload();
		await page.getByRole('heading', { name: /messages?$/ }).waitFor();
	});
});
