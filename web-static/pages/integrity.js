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
	const ok = r.ok === true;
	return h('div', { class: 'stack' },
		h('p', { class: `notice ${ok ? 'ok' : 'error'}` }, ok
			? `Verified: no problem found in ${num(r.messages)} messages, ${num(r.archive_log_size)} archive log entries and ${num(r.audit_log_size)} audit log entries.`
			: `Verify found ${num(r.problems)} problem${r.problems === 1 ? '' : 's'}${job.error ? `: ${job.error}` : ''}.`),
		h('dl', { class: 'facts' }, Object.entries(r).flatMap(([k, v]) => [h('dt', k.replace(/_/g, ' ')),
			h('dd', Array.isArray(v) ? v.join('; ') || '—' : String(v))])),
		job.finished ? h('p', { class: 'muted small-text' }, 'Finished ', when(job.finished)) : null);
}

async function verifyCard(alive) {
	const out = h('div', { 'aria-live': 'polite' });
	const full = field({ label: 'Full check (decrypt every message; slower)', name: 'full', type: 'checkbox' });
	const btn = h('button', { type: 'button', class: 'primary' }, 'Start verify');
	const card = h('section', { class: 'card stack', 'aria-labelledby': 'verify-title' },
		h('h2', { id: 'verify-title' }, 'Verify the archive'), full.row, h('div', { class: 'buttons' }, btn), out);
	function draw(job) {
		if (!job || !job.state || job.state === 'idle') { fill(out, h('p', { class: 'muted' }, 'Not run since the server started.')); return; }
		btn.disabled = job.state === 'running';
		if (job.state === 'running') {
			const p = job.progress || {};
			fill(out, h('progress', { max: String(p.total || 1), value: String(p.done || 0), 'aria-label': 'Verify progress' }),
				h('p', { class: 'muted' }, `Checking… ${p.total ? `${num(p.done)} of ${num(p.total)}` : ''}`));
			setTimeout(async () => {
				if (!alive()) return;
				try { draw(await api.get('/verify')); } catch (err) { fill(out, errorBox(err)); }
			}, 600);
		} else {
			fill(out, verifyResult(job));
			announce(job.result && job.result.ok ? 'Verify passed.' : 'Verify found problems.');
		}
	}
	btn.addEventListener('click', async () => {
		try { draw(await api.post('/verify', { full: full.input.checked })); } catch (err) { fill(out, errorBox(err)); }
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
	const box = h('section', { class: 'stack', 'aria-labelledby': 'hist-title' }, h('h2', { id: 'hist-title' }, 'Checkpoint history'), sel.row);
	try {
		const r = await api.get('/checkpoints/history', { log, offset, limit: LIMIT });
		const rows = r.checkpoints || [];
		const total = r.total !== undefined ? r.total : rows.length;
		const pg = pager({ offset, limit: LIMIT, total, noun: 'checkpoints', go: (o) => go('integrity', { log, offset: o }) });
		box.append(pg.el, table({
			label: `${log} checkpoints`,
			columns: [
				{ label: 'Size', cls: 'num', render: (c) => num(c.size) },
				{ label: 'Time', render: (c) => when(c.time) },
				{ label: 'Root hash', cls: 'break', render: (c) => h('code', c.root || c.root_hash || '') },
				{ label: 'Key', cls: 'break hide-narrow', render: (c) => c.key || c.key_id || '' },
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

async function heartbeatCard() {
	const box = h('section', { class: 'card stack', 'aria-labelledby': 'hb-title' }, h('h2', { id: 'hb-title' }, 'Heartbeat (last 7 days)'));
	try {
		const to = new Date();
		const from = new Date(to.getTime() - 7 * 86400e3);
		const r = await api.get('/heartbeat', { since: from.toISOString().replace(/\.\d+Z$/, 'Z') });
		const gaps = (r.gaps || []).map((g) => ({ from: new Date(g.from), to: new Date(g.to || to) }));
		const beats = (r.beats || []).map((b) => new Date(b.time || b));
		box.append(timeline({ title: 'Heartbeat entries and gaps in the audit log', from, to, beats, gaps }),
			h('p', gaps.length ? h('span', { class: 'badge warn' }, `${gaps.length} gap${gaps.length === 1 ? '' : 's'}`)
				: h('span', { class: 'badge ok' }, 'no gaps'), ' ', h('span', { class: 'muted small-text' },
				'A gap is a pause of more than 30 minutes between audit entries: the appliance was stopped, or entries are missing.')));
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
	main.append(h('div', { class: 'grid' }, v, hb), cps ? keysCard(cps) : null, hist);
}
