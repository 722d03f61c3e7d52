// Integrity (compliance): start `verify` and follow it to its result; the
// logs' latest checkpoints and their history; the verifier keys to copy and
// keep off the appliance; heartbeat gaps on a time line.

import { api } from '../lib/api.js';
import { h, field, fill, when, num, copyButton } from '../lib/dom.js';
import { table, pager } from '../lib/table.js';
import { timeline } from '../lib/charts.js';
import { errorBox, announce } from '../lib/dialogs.js';
import { go } from '../lib/router.js';

const LIMIT = 20;

function verifyResult(job) {
	const r = job.result || {};
	const ok = job.status === 'done' && r.ok === true;
	const facts = [
		['Messages checked', num(r.messages)], ['Disposed by policy', num(r.disposed)],
		['Archive log entries', num(r.archive_leaves)], ['Audit log entries', num(r.audit_leaves)],
		['Checkpoints (archive / audit)', `${num(r.archive_checkpoints)} / ${num(r.audit_checkpoints)}`],
		['Messages decrypted', num(r.blobs_decrypted)], ['Stray blobs', num(r.orphan_blobs)],
		['Heartbeat gaps', num(r.heartbeat_gaps)],
	];
	// A failure says what failed in the red notice itself, and opens all
	// verify said.
	const fails = (job.lines || []).filter((l) => /^FAIL\b/.test(l));
	const SHOWN = 10;
	return h('div', { class: 'stack' },
		h('div', { class: `notice ${ok ? 'ok' : 'error'}`, role: ok ? null : 'alert' }, h('p', ok
			? `Verified: no problem found in ${num(r.messages)} messages, ${num(r.archive_leaves)} archive log entries and ${num(r.audit_leaves)} audit log entries${job.full ? ' (full check)' : ''}.`
			: job.status === 'failed' ? `Verify could not run: ${job.error || 'unknown error'}.`
				: `Verify found ${num(r.problems)} problem${r.problems === 1 ? '' : 's'}${fails.length ? ':' : '.'}`),
		!ok && fails.length ? h('ul', { class: 'findings' }, fails.slice(0, SHOWN).map((l) => h('li', h('code', { class: 'break' }, l))),
			fails.length > SHOWN ? h('li', `and ${num(fails.length - SHOWN)} more (below)`) : null) : null),
		job.result ? h('dl', { class: 'facts' }, facts.flatMap(([k, v]) => [h('dt', k), h('dd', v)])) : null,
		(job.lines || []).length ? h('details', { open: !ok }, h('summary', 'What verify said'), h('pre', job.lines.join('\n'))) : null,
		h('p', { class: 'muted small-text' }, 'Started by ', job.started_by || '—', ' ', when(job.started),
			job.finished ? [' · finished ', when(job.finished)] : ''));
}

async function verifyCard(alive) {
	const out = h('div', { 'aria-live': 'polite' });
	const full = field({ label: 'Full check (decrypt every message; slower)', name: 'full', type: 'checkbox' });
	const btn = h('button', { type: 'button', class: 'primary' }, 'Start verify');
	const card = h('section', { class: 'card stack', 'aria-labelledby': 'verify-title' },
		h('h2', { id: 'verify-title' }, 'Verify the archive'), full.row, h('div', { class: 'buttons' }, btn), out);
	let announced = false;
	function draw(job) {
		btn.disabled = job.status === 'running';
		if (job.status === 'none') {
			const last = job.last_recorded;
			fill(out, h('p', { class: 'muted' }, last
				? ['Last verify in the audit log: ', when(last.time), ` by ${last.actor}, `, h('span', { class: `badge long ${last.outcome === 'ok' ? 'ok' : 'bad'}` }, last.outcome)]
				: 'Verify has not run yet.'));
		} else if (job.status === 'running') {
			const p = job.progress || {};
			fill(out, h('progress', { 'aria-label': 'Verify running' }),
				h('p', { class: 'muted' }, `Checking… ${num(p.elapsed_s)} s so far, ${num(p.problems)} problems found.`));
			setTimeout(async () => {
				if (!alive()) return;
				try { draw(await api.get('/verify')); } catch (err) { fill(out, errorBox(err)); }
			}, 500);
		} else {
			fill(out, verifyResult(job));
			const passed = job.status === 'done' && job.result && job.result.ok;
			if (!announced) {
				announce(passed ? 'Verify passed.' : job.status === 'failed' ? 'Verify could not run.' : 'Verify found problems.', { error: !passed });
			}
			announced = true;
		}
	}
	btn.addEventListener('click', async () => {
		announced = false;
		try {
			await api.post('/verify', { full: full.input.checked });
			draw(await api.get('/verify'));
		} catch (err) { fill(out, errorBox(err)); }
	});
	try { draw(await api.get('/verify')); } catch (err) { fill(out, errorBox(err)); }
	return card;
}

function keysCard(cps) {
	const logs = ['archive', 'audit'].filter((l) => cps[l]);
	return h('section', { class: 'card stack', 'aria-labelledby': 'keys-title' },
		h('h2', { id: 'keys-title' }, 'Latest checkpoints and verifier keys'),
		h('p', { class: 'muted small-text' }, 'Keep a copy of the keys and of the latest checkpoints off the appliance: with them anyone can later check that the logs only grew.'),
		logs.map((l) => {
			const c = cps[l];
			const keys = c.vkeys && c.vkeys.length ? c.vkeys : [c.vkey];
			return h('div', { class: 'stack' },
				h('h3', `${l === 'archive' ? 'Archive' : 'Audit'} log: ${num(c.size)} entries`),
				h('pre', { 'aria-label': `${l} log checkpoint` }, c.checkpoint), copyButton(c.checkpoint, `Copy the ${l} checkpoint`),
				h('ul', keys.map((k) => h('li', h('code', { class: 'break' }, k), ' ', copyButton(k, `Copy ${l} key`)))));
		}));
}

async function historyCard(params) {
	const log = params.get('log') === 'audit' ? 'audit' : 'archive';
	const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
	const sel = field({ label: 'Log', name: 'log', tag: 'select', options: [['archive', 'Archive log'], ['audit', 'Audit log']], value: log });
	sel.input.addEventListener('change', () => go('integrity', { log: sel.input.value }));
	const box = h('section', { class: 'stack', 'aria-labelledby': 'hist-title' }, h('h2', { id: 'hist-title' }, 'Checkpoint history'), h('div', { class: 'row' }, sel.row));
	try {
		const r = await api.get('/checkpoints/history', { log, offset, limit: LIMIT });
		const rows = r.checkpoints || [];
		const total = r.total !== undefined ? r.total : rows.length;
		const pg = pager({ offset, limit: LIMIT, total, noun: 'checkpoints', go: (o) => go('integrity', { log, offset: o }) });
		box.append(pg.el, table({
			label: `${log} checkpoints`,
			columns: [
				{ label: 'Size', cls: 'num', render: (c) => num(c.size) },
				{ label: 'Stored', render: (c) => when(c.stored) },
				{ label: 'Root hash', cls: 'break', render: (c) => h('code', c.root) },
				{ label: 'Key epoch', cls: 'num hide-narrow', render: (c) => num(c.epoch) },
				{ label: 'Note', render: (c) => copyButton(c.note, `Copy checkpoint ${c.size}`) },
			],
			rows,
			pager: pg,
			empty: 'No checkpoints.',
		}));
	} catch (err) {
		box.appendChild(errorBox(err));
	}
	return box;
}

// When the audit log began (its first entry with a time), or null.
async function heartbeatCard() {
	const box = h('section', { class: 'card stack', 'aria-labelledby': 'hb-title' }, h('h2', { id: 'hb-title' }, 'Heartbeat (last 7 days)'));
	try {
		const to = new Date();
		const from = new Date(to.getTime() - 7 * 86400e3);
		const r = await api.get('/checkpoints/gaps', { since: from.toISOString().replace(/\.\d+Z$/, 'Z') });
		// Nothing can be said of heartbeats before the audit log began.
		const first = r.log_start ? new Date(r.log_start) : null;
		const start = first && first > from ? first : null;
		const gaps = (r.gaps || []).map((g) => ({ from: new Date(g.from), to: new Date(g.to || to) }));
		const gapWords = r.total ? h('span', { class: 'badge warn' }, `${num(r.total)} gap${r.total === 1 ? '' : 's'}`)
			: h('span', { class: 'badge ok' }, start ? 'no gaps since then' : 'no gaps');
		box.append(timeline({ title: 'Gaps in the audit log over the last 7 days', from, to, start, gaps }),
			start ? h('p', 'The audit log began ', when(start),
				': no data before it (grey).') : null,
			h('p', gapWords, ' ', h('span', { class: 'muted small-text' },
				`A gap is a pause of more than ${Math.round((r.threshold_s || 1800) / 60)} minutes between audit entries: the appliance was stopped, or entries are missing.`)));
	} catch (err) {
		box.appendChild(errorBox(err));
	}
	return box;
}

export async function render({ main, params, alive }) {
	main.appendChild(h('h1', 'Integrity'));
	let cps = null;
	try { cps = await api.get('/checkpoints'); } catch (err) { main.appendChild(errorBox(err)); }
	const [v, hb, hist] = await Promise.all([verifyCard(alive), heartbeatCard(), historyCard(params)]);
	main.append(h('div', { class: 'grid two' }, v, hb), cps ? keysCard(cps) : null, hist);
}
