// API errors in words a user understands (issue 14): a bad query shows the
// parser's message; an audit store that cannot be written shows that
// nothing can be shown or changed (the server fails closed, 503
// audit_failed). The expired session is in session.test.mjs.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { launch, openPage, signIn, go, shots, USERS, DATA } from './lib/env.mjs';

const legal = Object.keys(USERS).find((u) => USERS[u] === 'legal');
const AUDIT_WORDS = 'The audit log cannot be written, so nothing can be shown or changed right now';

function chattr(flag, files) {
	return files.every((f) => spawnSync('chattr', [flag, f]).status === 0);
}

// The same fault on a PostgreSQL catalog (the backend matrix): a trigger
// refuses every new log entry, as a read-only store would.
const PSQL = path.join(process.env.PG_BINDIR || '/usr/lib/postgresql/15/bin', 'psql');
function pgRefuseLog(on) {
	const url = readFileSync(path.join(DATA, 'catalog.url'), 'utf8').trim();
	const sql = on
		? "CREATE FUNCTION pv_test_refuse() RETURNS trigger LANGUAGE plpgsql AS " +
		  "$$BEGIN RAISE EXCEPTION 'refused by the test'; END$$; " +
		  'CREATE TRIGGER pv_test_refuse BEFORE INSERT ON tlog_leaf ' +
		  'FOR EACH ROW EXECUTE FUNCTION pv_test_refuse();'
		: 'DROP TRIGGER IF EXISTS pv_test_refuse ON tlog_leaf; ' +
		  'DROP FUNCTION IF EXISTS pv_test_refuse();';
	return spawnSync(PSQL, [url, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql]).status === 0;
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
		const onPg = existsSync(path.join(DATA, 'catalog.url'));
		const db = path.join(DATA, 'catalog.db');
		const live = [db, `${db}-wal`].filter((f) => existsSync(f));
		const writableAgain = () => (onPg ? pgRefuseLog(false) : chattr('-i', live));
		if (onPg) {
			assert.ok(pgRefuseLog(true), 'the trigger is made');
		} else if (process.getuid() !== 0 || !chattr('+i', live)) {
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
			writableAgain();
		}
		// Writable again: the same page works at once.
		await page.reload();
		await page.getByRole('heading', { name: /messages?$/ }).waitFor();
	});
});
