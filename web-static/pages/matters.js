// Matters (legal): a matter gathers a case's saved searches, holds and
// exports. Create a matter; in one, run a saved search, place a hold from
// a query, start an export (Bates prefix), watch its progress, download it,
// and read the verify-bundle command the recipient runs.

import { api } from '../lib/api.js';
import { h, field, select, fill, when, num, bytes, copyButton, actionButton } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { href, go } from '../lib/router.js';
import { ask, errorBox, okBox, announce } from '../lib/dialogs.js';
import { syntaxChecker } from '../lib/syntax.js';

// A query box of a matter's form: wide, its syntax checked as it is typed.
function queryField(label, name, value, emptyText) {
	const f = field({ label, name, value, attrs: { required: true, maxlength: 4096, autocomplete: 'off', spellcheck: 'false' } });
	const out = h('p', { id: `${f.input.id}-syntax`, class: 'syntax muted', 'aria-live': 'polite' });
	f.input.setAttribute('aria-describedby', out.id);
	f.row.classList.add('grow');
	f.row.appendChild(out);
	const check = syntaxChecker(f.input, out, emptyText);
	f.input.addEventListener('input', check);
	if (value) check();
	return f;
}

async function list(main) {
	main.appendChild(h('h1', 'Matters'));
	const name = field({ label: 'Name', name: 'name', attrs: { required: true, maxlength: 128 } });
	const desc = field({ label: 'Description', name: 'description', attrs: { maxlength: 1024 } });
	const msg = h('div');
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'new-matter' },
		h('h2', { id: 'new-matter' }, 'New matter'), h('div', { class: 'row' }, name.row, desc.row,
			h('button', { type: 'submit', class: 'primary' }, 'Create matter')), msg);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		if (!name.input.value.trim()) { name.input.focus(); return; }
		try {
			const body = { name: name.input.value.trim() };
			if (desc.input.value.trim()) body.description = desc.input.value.trim();
			const m = await api.post('/matters', body);
			go(`matters/${m.name}`);
		} catch (err) { fill(msg, errorBox(err)); }
	});
	let r;
	try {
		r = await api.get('/matters');
	} catch (err) {
		main.append(errorBox(err));
		return;
	}
	main.appendChild(table({
		label: 'Matters',
		columns: [
			{ label: 'Matter', render: (m) => h('a', { href: href(`matters/${m.name}`) }, m.name) },
			{ label: 'Description', cls: 'break', render: (m) => m.description || '' },
			{ label: 'Saved searches', cls: 'num', render: (m) => num(m.searches) },
			{ label: 'Holds', cls: 'num', render: (m) => num(m.holds) },
			{ label: 'Exports', cls: 'num', render: (m) => num(m.exports) },
			{ label: 'Created', cls: 'hide-narrow', render: (m) => when(m.created) },
		],
		rows: r.matters || [],
		empty: 'No matters yet. Create one below, or from the search page.',
	}));
	main.appendChild(form);
}

// Cancels a running export, asking first; the server's answer (409 when
// it finished meanwhile) is shown in the dialog. Resolves true when done
// (the table's next refresh announces it, as it would another tab's).
async function cancelExport(job) {
	const a = await ask({ title: `Cancel export ${job.id}?`, confirm: 'Cancel the export', danger: true,
		body: 'The export stops within a message and its partial file is removed. It can be started again.',
		submit: () => api.del(`/exports/${job.id}`) });
	return Boolean(a);
}

// Removes a finished export's bundle from the appliance, asking first.
async function removeExport(job) {
	const a = await ask({ title: `Remove the bundle of export ${job.id}?`, confirm: 'Remove the bundle', danger: true,
		body: `It holds the plaintext of ${num(job.messages)} messages. Copies already downloaded are not affected, and its record (SHA-256, verifier keys) stays, so they can still be checked. A disposal run removes a bundle holding mail it destroys by itself.`,
		submit: () => api.del(`/exports/${job.id}/bundle`) });
	return Boolean(a);
}

// A job's row; cancelled(): after a job was cancelled or its bundle removed here.
function exportRow(job, cancelled) {
	const p = job.progress || { done: 0, total: 0 };
	let state;
	if (job.status === 'running') {
		const stop = actionButton('Cancel', `export ${job.id}`, 'small danger');
		stop.addEventListener('click', async () => { if (await cancelExport(job)) cancelled(); });
		state = h('div', h('progress', { max: String(p.total || 1), value: String(p.done || 0), 'aria-label': `Export ${job.id} progress` }),
			h('span', { class: 'small-text muted' }, `${num(p.done)} of ${num(p.total)} steps `), stop);
	} else if (job.status === 'done' && job.removed) {
		state = h('span', { class: 'muted' }, 'Bundle removed ', when(job.removed), ` by ${job.removed_by || '?'}`);
	} else if (job.status === 'done') {
		const remove = actionButton('Remove', `the bundle of export ${job.id}`, 'small danger');
		remove.addEventListener('click', async () => { if (await removeExport(job)) cancelled(); });
		state = h('div', h('a', { class: 'button small primary', href: job.download ? job.download : api.url(`/exports/${job.id}/download`), download: '' },
			`Download export ${job.id}`), ' ', remove);
	} else {
		state = h('span', { class: 'badge long bad' }, job.status, job.error ? `: ${job.error}` : '');
	}
	return { job, state };
}

// Whether a finished export's bundle carries RFC 3161 time-stamps: a log
// had one (GET /status: its newest) before the export finished. null:
// not known (no status, or every time-stamp is newer than the export).
function carriesStamps(job, logs) {
	if (!logs) return null;
	const stamps = ['archive', 'audit'].map((n) => logs[n] && logs[n].anchor && logs[n].anchor.timestamp_time).filter(Boolean);
	if (!stamps.length) return false;
	const end = new Date(job.finished || job.created || Date.now());
	return stamps.some((t) => new Date(t) <= end) ? true : null;
}

// What the recipient of a finished export runs; open: shown at once (the
// newest), else folded under its summary.
function verifyHelp(job, logs, open) {
	if (!job || job.status !== 'done' || !job.verify) return null;
	const stamps = carriesStamps(job, logs);
	const tsa = h('code', '--tsa-ca TSA-CA.pem');
	const parts = [
		h('p', 'Check the bundle with popvault on any machine (no archive needed). Compare the keys with copies kept off the appliance:'),
		h('pre', job.verify.command), copyButton(job.verify.command, 'Copy the command'),
		stamps === false ? null : h('p', { class: 'notice info' }, stamps
			? ['This bundle carries RFC 3161 time-stamps of the logs: add ', tsa,
				' to the command (your time-stamp authority’s CA certificate, obtained from the TSA, not from the bundle) to check them too.']
			: ['If the bundle has archive/timestamps/ or audit/timestamps/, it carries RFC 3161 time-stamps: add ', tsa,
				' (your time-stamp authority’s CA certificate) to the command to check them too.']),
		h('p', { class: 'small-text muted' }, `${num(job.messages)} messages, ${bytes(job.file_size)}, SHA-256 `,
			h('code', { class: 'break' }, job.sha256 || ''))];
	const title = `For the recipient of export ${job.id}`;
	if (!open) return h('details', { class: 'card' }, h('summary', title), parts);
	return h('section', { class: 'card', 'aria-labelledby': `verify-${job.id}` },
		h('h3', { id: `verify-${job.id}` }, title), parts);
}

// An export's query; an empty one exported every message.
function queryText(q) {
	return q ? h('code', q) : h('span', { class: 'muted' }, '(all messages)');
}

async function one(main, name, params, alive) {
	main.appendChild(h('h1', { class: 'break' }, `Matter: ${name}`));
	main.appendChild(h('p', h('a', { href: href('matters') }, '← All matters')));
	const body = h('div', { class: 'stack' });
	main.appendChild(body);
	let m;
	try {
		m = await api.get(`/matters/${encodeURIComponent(name)}`);
	} catch (err) {
		body.appendChild(errorBox(err));
		return;
	}
	if (m.description) body.appendChild(h('p', m.description));

	body.appendChild(h('h2', 'Saved searches'));
	body.appendChild(table({
		label: 'Saved searches',
		columns: [
			{ label: 'Name', render: (s) => s.name },
			{ label: 'Query', cls: 'break', render: (s) => h('code', s.query) },
			{ label: 'Run', render: (s) => h('a', { href: href('search', { q: s.query }) }, `Run “${s.name}”`) },
			{ label: 'Saved', cls: 'hide-narrow', render: (s) => when(s.created) },
		],
		rows: m.searches || [],
		empty: 'None yet: save one from the search page.',
	}));

	body.appendChild(h('h2', 'Holds'));
	const hmsg = h('div');
	const holdsBox = h('div');
	body.appendChild(holdsBox);
	// release_pending: the approval that would release the hold, while it
	// waits; no second request then (the server would refuse it, 409).
	const drawHolds = () => fill(holdsBox, table({
		label: 'Holds',
		columns: [
			{ label: 'Hold', render: (x) => (x.note ? h('span', x.name, h('br'), h('span', { class: 'muted small-text' }, x.note)) : x.name) },
			{ label: 'Query', cls: 'break', render: (x) => h('code', x.query) },
			{ label: 'Messages', cls: 'num', render: (x) => num(x.members) },
			{ label: 'State', render: (x) => (x.released ? h('span', { class: 'badge' }, 'released ', when(x.released, true))
				: h('span', { class: 'badge ok' }, 'active')) },
			{ label: 'Release', render: (x) => {
				if (x.released) return '';
				if (x.release_pending !== undefined && x.release_pending !== null) {
					return h('a', { class: 'badge long warn', href: href('approvals') },
						`release asked (#${x.release_pending}), waits for approval`);
				}
				const b = actionButton('Ask to release', `“${x.name}”`, 'small secondary');
				b.addEventListener('click', async () => {
					const a = await ask({ title: `Ask to release the hold “${x.name}”?`, confirm: 'Ask for release',
						body: 'A compliance officer must approve it; until then the hold stays.', reason: { label: 'Reason', required: true },
						submit: ({ reason }) => api.post(`/holds/${encodeURIComponent(x.name)}/release`, { reason }) });
					if (!a) {
						// Cancelled, perhaps after a refusal (someone else asked
						// meanwhile): the holds as they are now.
						try {
							m.holds = (await api.get(`/matters/${encodeURIComponent(name)}`)).holds;
							drawHolds();
						} catch (err) { fill(hmsg, errorBox(err)); }
						return;
					}
					const id = a.result.approval.id;
					x.release_pending = id;
					drawHolds();
					const said = `Release of “${x.name}” asked for (approval #${id}); the hold stays until it is approved.`;
					fill(hmsg, okBox(said));
					announce(said);
					const badge = [...holdsBox.querySelectorAll('a.badge')].find((el) => el.textContent.includes(`(#${id})`));
					if (badge) badge.focus();
				});
				return b;
			} },
			{ label: 'Placed', cls: 'hide-narrow', render: (x) => when(x.created) },
		],
		rows: m.holds || [],
		empty: 'No holds.',
	}));
	drawHolds();
	const hq = queryField('Query', 'query', '', 'A hold needs a query: it holds what the query finds.');
	const hn = field({ label: 'Hold name', name: 'hold', attrs: { required: true, maxlength: 128 } });
	const hnote = field({ label: 'Note (optional)', name: 'note', hint: 'Why it is held: a case number, a letter.', attrs: { maxlength: 1024 } });
	hnote.row.classList.add('grow');
	const holdForm = h('form', { class: 'card stack', 'aria-labelledby': 'new-hold' }, h('h3', { id: 'new-hold' }, 'Place a hold'),
		h('div', { class: 'row top' }, hn.row, hq.row), h('div', { class: 'row' }, hnote.row, h('button', { type: 'submit' }, 'Place hold')), hmsg);
	holdForm.addEventListener('submit', async (e) => {
		e.preventDefault();
		fill(hmsg);
		try {
			const b = { name: hn.input.value.trim(), query: hq.input.value, matter: name };
			if (hnote.input.value.trim()) b.note = hnote.input.value.trim();
			const r = await api.post('/holds', b);
			announce(`Hold ${r.name} placed on ${r.members} messages.`);
			go(`matters/${name}`);
		} catch (err) { fill(hmsg, errorBox(err)); }
	});
	body.appendChild(holdForm);

	body.appendChild(h('h2', 'Exports'));
	// Not a live region: it is drawn anew while an export runs (every
	// 700 ms); a change of a job's state is announced instead.
	const exportsBox = h('div', { class: 'stack' });
	body.appendChild(exportsBox);
	const highlight = params.get('export');
	const emsg = h('div');
	// Each export's state as last drawn; one started here (or from the
	// search, ?export=N) counts as running until it is seen otherwise.
	const seen = new Map();
	if (highlight) seen.set(highlight, 'running');
	function noteChanges(jobs) {
		for (const j of jobs) {
			const id = String(j.id);
			const was = seen.get(id);
			seen.set(id, j.status);
			if (was !== 'running' || j.status === 'running') continue;
			fill(emsg);
			if (j.status === 'done') announce(`Export ${id} finished: download below.`);
			else if (j.status === 'cancelled') announce(`Export ${id} cancelled.`);
			else announce(`Export ${id} ${j.status}${j.error ? `: ${j.error}` : '.'}`, { error: true });
		}
	}
	let poll = null;
	// The logs' anchors: whether a bundle carries time-stamps to check.
	let logs = null;
	try { logs = (await api.get('/status')).logs || null; } catch { logs = null; }
	async function refresh() {
		try {
			const r = await api.get('/exports', { matter: name });
			if (alive()) drawExports(r.exports || []);
		} catch (err) { if (alive()) exportsBox.appendChild(errorBox(err)); }
	}
	function drawExports(jobs) {
		clearTimeout(poll);
		noteChanges(jobs);
		const rows = jobs.map((j) => exportRow(j, refresh));
		fill(exportsBox, table({
			label: 'Exports',
			columns: [
				{ label: 'Export', render: (x) => String(x.job.id) },
				{ label: 'Query', cls: 'break', render: (x) => queryText(x.job.query) },
				{ label: 'Bates', render: (x) => x.job.bates_prefix || '' },
				{ label: 'Started', cls: 'hide-narrow', render: (x) => when(x.job.created) },
				{ label: 'State', render: (x) => x.state },
			],
			rows,
			empty: 'No exports yet.',
		}), jobs.filter((j) => j.status === 'done').map((j, i) => verifyHelp(j, logs,
			i === 0 || String(j.id) === highlight)));
		if (jobs.some((j) => j.status === 'running') && alive()) {
			poll = setTimeout(() => { if (alive()) refresh(); }, 700);
		}
	}
	drawExports(m.exports || []);

	const eq = queryField('Query', 'equery', (m.searches && m.searches[0] && m.searches[0].query) || '',
		'An export needs a query: it exports what the query finds.');
	const fmt = select({ label: 'Format', name: 'format', options: [['zip', 'zip'], ['tar.gz', 'tar.gz']] });
	const bates = field({ label: 'Bates prefix', name: 'bates', hint: 'Fixed by the matter’s first export.',
		attrs: { maxlength: 32 } });
	const exportForm = h('form', { class: 'card stack', 'aria-labelledby': 'new-export' }, h('h3', { id: 'new-export' }, 'New export'),
		h('div', { class: 'row' }, eq.row), h('div', { class: 'row' }, fmt.row, bates.row, h('button', { type: 'submit', class: 'primary' }, 'Start export')), emsg);
	exportForm.addEventListener('submit', async (e) => {
		e.preventDefault();
		try {
			const b = { query: eq.input.value, matter: name, format: fmt.input.value };
			if (bates.input.value.trim()) b.bates_prefix = bates.input.value.trim();
			const r = await api.post('/exports', b);
			seen.set(String(r.id), 'running');
			fill(emsg, okBox(`Export ${r.id} started.`));
			announce(`Export ${r.id} started.`);
			await refresh();
		} catch (err) { fill(emsg, errorBox(err)); }
	});
	body.appendChild(exportForm);
}

export async function render({ main, parts, params, alive, title }) {
	if (parts[1]) {
		title(`Matter ${parts[1]}`);
		await one(main, parts[1], params, alive);
	} else {
		await list(main);
	}
}
