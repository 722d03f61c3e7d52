// Dashboard: each role sees its part of GET /api/v1/status (accounts for
// admin and compliance), the archive's growth as a chart, the index lag,
// the logs' latest checkpoints and their anchors outside the appliance
// (time-stamps, witnesses), the last verify, heartbeat gaps, the
// approvals waiting, a harvest stopped for a low disk, and anchors gone
// stale; a compliance officer can anchor both logs now.

import { api } from '../lib/api.js';
import { h, fill, when, num, bytes } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { bars, legend } from '../lib/charts.js';
import { errorBox, announce } from '../lib/dialogs.js';

function ago(seconds) {
	if (typeof seconds !== 'number') return '—';
	if (seconds < 90) return `${seconds} s ago`;
	if (seconds < 5400) return `${Math.round(seconds / 60)} min ago`;
	if (seconds < 172800) return `${Math.round(seconds / 3600)} h ago`;
	return `${Math.round(seconds / 86400)} days ago`;
}

function stat(label, value, note) {
	return h('div', { class: 'card stat' }, h('span', { class: 'muted' }, label),
		h('span', { class: 'big' }, value), note ? h('span', { class: 'muted small-text' }, note) : null);
}

function accountsTable(accounts) {
	return table({
		caption: 'Upstream accounts',
		columns: [
			{ label: 'Account', render: (a) => a.name },
			{ label: 'Last harvest', render: (a) => (a.last_harvest ? when(a.last_harvest.time) : 'never') },
			{ label: 'Outcome', render: (a) => (!a.last_harvest ? '—'
				: h('span', { class: `badge long ${a.last_harvest.ok ? 'ok' : 'bad'}` }, a.last_harvest.ok ? 'ok' : a.last_harvest.outcome)) },
			{ label: 'Fetched', cls: 'num', render: (a) => num(a.last_harvest ? a.last_harvest.fetched : null) },
			{ label: 'Failed runs', cls: 'num', render: (a) => num(a.runs ? a.runs.failed : null) },
			{ label: 'Left upstream', cls: 'num', render: (a) => num(a.residue_upstream) },
			{ label: 'Next run', render: (a) => (a.next_run ? when(a.next_run) : h('span', { class: 'muted' }, 'by schedule')) },
		],
		rows: accounts,
		empty: 'No upstream accounts yet.',
	});
}

const LOG_NAMES = { archive: 'Archive log', audit: 'Audit log' };

// Each log's newest time-stamp (RFC 3161) or witness cosignature: what it
// covers, how old it is, and a last attempt that failed.
function anchorLine(name, an) {
	const newest = an.timestamp_time || an.witnessed_time;
	const what = [];
	if (an.timestamp_time) what.push(['time-stamped ', when(an.timestamp_time)]);
	if (an.witnessed_time) what.push([what.length ? ', witnessed ' : 'witnessed ', when(an.witnessed_time)]);
	return h('div', { class: 'anchor' }, h('div', `${LOG_NAMES[name]}: `,
		newest ? [what, ` (${num(an.anchored_size)} entries, ${ago(an.age_s)}) `] : 'never anchored yet ',
		h('span', { class: `badge ${an.stale ? 'warn' : 'ok'}` }, an.stale ? 'stale' : 'current')),
		an.last_error ? h('details', { class: 'small-text' }, h('summary', 'Last attempt ', when(an.last_attempt), ' failed'),
			an.last_error) : null);
}

// Whether a TSA or a witness is configured (status says so per log).
function anchorsConfigured(logs) {
	return ['archive', 'audit'].some((n) => logs[n] && logs[n].anchor && logs[n].anchor.configured);
}

function anchorFacts(logs) {
	const names = ['archive', 'audit'].filter((n) => logs[n] && logs[n].anchor);
	if (!anchorsConfigured(logs)) {
		return h('span', { class: 'muted' }, 'not configured: no time-stamp authority or witness in popvault.conf');
	}
	return names.map((n) => anchorLine(n, logs[n].anchor));
}

// A warning when a log's anchors are stale: its history since the newest
// one is vouched for by nobody outside the appliance.
function staleNotice(logs) {
	const stale = ['archive', 'audit'].filter((n) => logs[n] && logs[n].anchor && logs[n].anchor.stale);
	if (!stale.length) return null;
	const failed = stale.map((n) => logs[n].anchor.last_error).find((e) => e);
	return h('p', { class: 'notice warn', role: 'status' },
		`The ${stale.map((n) => LOG_NAMES[n].toLowerCase()).join(' and the ')}${stale.length > 1 ? ' have' : ' has'} no recent anchor outside the appliance: `,
		'what it recorded since is vouched for by no time-stamp authority or witness. ',
		failed ? `The last attempt failed: ${failed}.` : 'Anchoring has not run recently.');
}

// "Anchor now" (compliance): both logs to the TSA and witnesses at once,
// as serve does on its schedule; then redraw(text, ok) draws the whole
// card anew from a fresh /status (the logs grew: each attempt is audited).
// said: the outcome of the last run here, shown beside the button.
function anchorNow(alive, redraw, said) {
	const out = h('span', { 'aria-live': 'polite' }, said ? h('span', { class: said.ok ? 'muted' : '' }, ` ${said.text}`) : null);
	const btn = h('button', { type: 'button' }, 'Anchor now');
	btn.addEventListener('click', async () => {
		btn.disabled = true;
		fill(out, h('span', { class: 'muted' }, ' Asking the time-stamp authority and the witnesses…'));
		try {
			await api.post('/anchor', {});
			let job = await api.get('/anchor');
			while (job.status === 'running' && alive()) {
				await new Promise((r) => { setTimeout(r, 500); });
				job = await api.get('/anchor');
			}
			if (!alive()) return;
			const ok = job.status === 'done';
			const text = ok ? 'Both logs anchored.'
				: 'Not every party answered: each log\'s last attempt says which and why.';
			await redraw({ text, ok });
			announce(text, { error: !ok });
		} catch (err) {
			fill(out, errorBox(err));
			btn.disabled = false;
		}
	});
	return h('div', { class: 'buttons' }, btn, out);
}

function integrityCard(st, cps, me, alive, said) {
	const logs = st.logs || {};
	const v = st.verify;
	const hb = st.heartbeat || {};
	const items = [];
	for (const name of ['archive', 'audit']) {
		const l = logs[name] || {};
		const cp = cps && cps[name];
		items.push(h('dt', `${name === 'archive' ? 'Archive' : 'Audit'} log`),
			h('dd', `${num(l.size !== undefined ? l.size : cp && cp.size)} entries`,
				l.checkpoint_time ? ['; checkpoint ', when(l.checkpoint_time), typeof l.age_s === 'number' ? ` (${ago(l.age_s)})` : ''] : '; checkpoint signed'));
	}
	let card = null;
	// The whole card from a fresh /status and checkpoints, the focus kept
	// on its button.
	const redraw = async (words) => {
		const [st2, cps2] = await Promise.all([api.get('/status'), api.get('/checkpoints').catch(() => null)]);
		if (!alive()) return;
		const fresh = integrityCard(st2, cps2, me, alive, words);
		card.replaceWith(fresh);
		const b = fresh.querySelector('button');
		if (b) b.focus();
	};
	items.push(h('dt', 'Anchored outside'), h('dd', h('div', anchorFacts(logs)),
		me.role === 'compliance' && anchorsConfigured(logs) ? anchorNow(alive, redraw, said) : null));
	items.push(h('dt', 'Last verify'), h('dd', v ? [when(v.time), ' ',
		h('span', { class: `badge long ${v.outcome === 'ok' ? 'ok' : 'bad'}` }, v.outcome === 'ok' ? 'passed' : v.outcome),
		v.full ? ' (full)' : ''] : 'never run'));
	items.push(h('dt', 'Heartbeat gaps'), h('dd', h('span', { class: `badge ${hb.gaps ? 'warn' : 'ok'}` }, num(hb.gaps || 0)),
		hb.last_entry ? [' · last entry ', when(hb.last_entry)] : ''));
	card = h('section', { class: 'card', 'aria-labelledby': 'dash-int' }, h('h2', { id: 'dash-int' }, 'Integrity'),
		h('dl', { class: 'facts' }, items));
	return card;
}

export async function render({ main, me, alive }) {
	main.appendChild(h('h1', 'Dashboard'));
	let st;
	let cps = null;
	try {
		[st, cps] = await Promise.all([api.get('/status'), api.get('/checkpoints').catch(() => null)]);
	} catch (err) {
		main.appendChild(errorBox(err));
		return;
	}
	const hv = st.harvest || {};
	if (hv.paused) {
		const disk = st.disk || {};
		main.appendChild(h('p', { class: 'notice error', role: 'alert' }, 'Harvesting is stopped since ', when(hv.since),
			`: the data directory's disk has ${bytes(disk.free_bytes)} free, under the ${bytes(disk.reserve_bytes)} reserve. `,
			'It resumes by itself once there is room.'));
	}
	const notice = staleNotice(st.logs || {});
	if (notice) main.appendChild(notice);
	const a = st.archive || {};
	const growth = st.growth || [];
	const week = growth.slice(-7).reduce((n, d) => n + (d.messages || 0), 0);
	const pending = st.pending_approvals;
	main.appendChild(h('div', { class: 'grid' },
		stat('Messages archived', num(a.messages), `${num(a.disposed || 0)} disposed by policy`),
		stat('Archive size', bytes(a.bytes), `${num(week)} messages in the last 7 days`),
		stat('Index lag', num((st.index || {}).lag), (st.index || {}).lag ? 'messages not yet searchable' : 'everything is searchable'),
		pending === null || pending === undefined ? null
			: stat('Pending approvals', num(pending), h('a', { href: '#/approvals' }, 'Open the approvals queue'))));

	const series = [{ name: 'Messages', values: growth.map((d) => d.messages || 0) }];
	const labels = growth.map((d) => (d.day || '').slice(5));
	main.appendChild(h('div', { class: 'split' },
		h('section', { class: 'card', 'aria-labelledby': 'dash-growth' },
			h('h2', { id: 'dash-growth' }, 'Archived per day (last 30 days)'),
			bars({ title: 'Messages archived per day', labels, series }),
			legend(series),
			h('p', { class: 'muted small-text' }, `Bytes in these days: ${bytes(growth.reduce((n, d) => n + (d.bytes || 0), 0))}`)),
		integrityCard(st, cps, me, alive)));

	if (st.accounts && (me.role === 'admin' || me.role === 'compliance')) {
		main.appendChild(h('h2', 'Accounts'));
		main.appendChild(accountsTable(st.accounts));
		if (me.role === 'admin') main.appendChild(h('p', h('a', { href: '#/accounts' }, 'Manage accounts and harvest now')));
	}
	if (me.role === 'legal') {
		main.appendChild(h('p', { class: 'buttons' }, h('a', { class: 'button primary', href: '#/search' }, 'Search the archive'),
			h('a', { class: 'button', href: '#/matters' }, 'Matters')));
	}
}
