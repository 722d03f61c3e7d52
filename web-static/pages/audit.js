// Audit trail (compliance): filters (time range, actor, type, object),
// paging, one entry's detail with its inclusion proof, "who viewed this
// message", and an audit bundle export with progress and download.

import { api } from '../lib/api.js';
import { h, field, fill, when, num, bytes, copyButton, minuteOf } from '../lib/dom.js';
import { table, pager } from '../lib/table.js';
import { go, href, replace } from '../lib/router.js';
import { show, errorBox, announce } from '../lib/dialogs.js';

const LIMIT = 50;
const FILTERS = ['since', 'until', 'actor', 'type', 'object'];

// "2026-12-02" or "2026-12-02T10:00" from a date/datetime field -> the API's
// RFC 3339 UTC form; empty stays empty. end: the end of the minute named
// (10:00:59), for "To": the minute it names is in the range (the API's
// until is inclusive, to the second; a bare date is the whole day).
function toApiTime(v, end) {
	if (!v) return '';
	if (/^\d{4}-\d{2}-\d{2}$/.test(v)) return v;
	return `${v.length === 16 ? `${v}:${end ? '59' : '00'}` : v}Z`;
}

function entryFacts(e) {
	const rows = [['Entry', String(e.seq)], ['Time', when(e.time)], ['Actor', e.actor], ['Type', e.type],
		['Object', e.object || '—'], ['Outcome', e.outcome], ['Personal data', e.personal || '—'],
		['Commitment', e.commit || '—']];
	return h('dl', { class: 'facts' }, rows.flatMap(([k, v]) => [h('dt', k), h('dd', { class: 'break' }, v)]));
}

// The entry with its inclusion proof (a C2SP tlog-proof with the signed
// checkpoint), offered as a file made here from the answer.
async function detail(seq) {
	const r = await api.get(`/audit/${seq}`);
	const proof = r.proof && r.proof.includes('\n\n') ? r.proof : `${r.proof || ''}\n${r.checkpoint || ''}`;
	const href = URL.createObjectURL(new Blob([proof], { type: 'text/plain' }));
	await show(`Audit entry ${seq}`, h('div', { class: 'stack' }, entryFacts(r.entry),
		h('p', { class: 'small-text muted' }, 'The inclusion proof shows this entry is in the signed audit log; check it offline with the audit log’s verifier key.'),
		h('details', h('summary', 'Proof and checkpoint'), h('pre', proof)),
		h('a', { class: 'button', href, download: `audit-${seq}.tlog-proof` }, `Download the inclusion proof of entry ${seq}`)));
	URL.revokeObjectURL(href);
}

// The entry's number as a button that opens it with its proof.
function entryButton(e) {
	const b = h('button', { type: 'button', class: 'small secondary' }, String(e.seq));
	b.setAttribute('aria-label', `Entry ${e.seq}: details and proof`);
	b.addEventListener('click', () => detail(e.seq).catch((err) => show('Audit entry', errorBox(err))));
	return b;
}

function entriesTable(entries, pg, label) {
	return table({
		label,
		columns: [
			{ label: '#', cls: 'num', render: entryButton },
			{ label: 'Time', cls: 'nowrap', render: (e) => when(e.time) },
			{ label: 'Actor', render: (e) => e.actor },
			{ label: 'Type', render: (e) => h('code', e.type) },
			{ label: 'Object', cls: 'break', render: (e) => e.object || '' },
			{ label: 'Outcome', render: (e) => h('span', { class: `badge long ${e.outcome === 'ok' ? 'ok' : 'bad'}` }, e.outcome) },
		],
		rows: entries,
		empty: 'No entry matches.',
		pager: pg,
	});
}

const NOUNS = { view: ['view', 'views'], download: ['download', 'downloads'] };

function entries(n) {
	return `${num(n)} audit ${n === 1 ? 'entry' : 'entries'}`;
}

// Opening a message once writes several entries (its metadata, proof,
// parts, body): those of one actor in one minute make one group, "4 views
// by web:lena", each entry still there to open.
function groupViews(es) {
	const groups = new Map();
	for (const e of es) {
		const minute = e.time ? minuteOf(e.time) : '—';
		const key = `${e.actor}\n${minute}`;
		if (!groups.has(key)) groups.set(key, { actor: e.actor, minute, time: e.time, entries: [] });
		groups.get(key).entries.push(e);
	}
	return [...groups.values()];
}

function groupWords(g) {
	const counts = new Map();
	for (const e of g.entries) counts.set(e.type, (counts.get(e.type) || 0) + 1);
	const what = [...counts].map(([t, n]) => {
		const [one, many] = NOUNS[t] || [`${t} entry`, `${t} entries`];
		return `${num(n)} ${n === 1 ? one : many}`;
	}).join(', ');
	return `${what} by ${g.actor}`;
}

function groupsTable(groups, label) {
	return table({
		label,
		columns: [
			{ label: 'Minute (UTC)', cls: 'nowrap', render: (g) => (g.time ? h('time', { datetime: new Date(g.time).toISOString() }, g.minute) : '—') },
			{ label: 'Actor', render: (g) => g.actor },
			{ label: 'What', render: (g) => groupWords(g) },
			{ label: 'Entries', render: (g) => h('div', { class: 'buttons' }, g.entries.map(entryButton)) },
			{ label: 'Outcome', render: (g) => {
				const bad = g.entries.filter((e) => e.outcome !== 'ok');
				return bad.length ? bad.map((e) => h('span', { class: 'badge long bad' }, `#${e.seq} ${e.outcome}`))
					: h('span', { class: 'badge ok' }, 'ok');
			} },
		],
		rows: groups,
		empty: 'Nobody viewed or downloaded it.',
	});
}

function viewersCard(params) {
	const id = field({ label: 'Message number', name: 'message', type: 'number', attrs: { min: 1, required: true },
		value: params.get('message') || '' });
	const out = h('div', { 'aria-live': 'polite' });
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'who-viewed' },
		h('h2', { id: 'who-viewed' }, 'Who viewed this message'),
		h('div', { class: 'row' }, id.row, h('button', { type: 'submit' }, 'Show who viewed it')), out);
	async function run() {
		const n = id.input.value;
		try {
			const r = await api.get('/audit/who-viewed', { message: n });
			const es = r.entries || [];
			const groups = groupViews(es);
			fill(out, h('p', `${entries(es.length)} for message ${n}`,
				es.length ? `, in ${num(groups.length)} group${groups.length === 1 ? '' : 's'} (one actor, one minute)` : '', '.'),
			groupsTable(groups, `Accesses to message ${n}`),
			es.length ? h('details', h('summary', `All ${entries(es.length)}, one by one`),
				entriesTable(es, null, `Audit entries for message ${n}`)) : null);
		} catch (err) { fill(out, errorBox(err)); }
	}
	form.addEventListener('submit', (e) => { e.preventDefault(); if (form.reportValidity()) run(); });
	if (params.get('message')) run();
	return form;
}

// The time range of a job or of the filters, in words.
function rangeWords(since, until) {
	const t = (v) => (/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v} (UTC)` : when(v));
	if (since && until) return ['from ', t(since), ' to ', t(until)];
	if (since) return ['from ', t(since), ' on'];
	if (until) return ['up to ', t(until)];
	return 'the whole log';
}

// The audit bundle: made of the filters' time range only (the API takes
// no actor, type or object), with or without the personal data, tar.gz or
// zip. The job's number goes into the address, so a reload or a visit
// elsewhere and Back shows it again, with its download and verify command.
function exportCard(filters, params, alive) {
	const out = h('div', { 'aria-live': 'polite' });
	const btn = h('button', { type: 'button', class: 'primary' }, 'Export audit bundle');
	const personal = field({ label: 'Include the personal data (queries, matter names, reasons)', name: 'personal', type: 'checkbox', value: true,
		hint: 'Without it the bundle keeps each entry’s commitment to that data, not the data.' });
	const format = field({ label: 'Format', name: 'format', tag: 'select', options: [['tar.gz', 'tar.gz'], ['zip', 'zip']] });
	const ignored = ['actor', 'type', 'object'].filter((k) => filters[k]);
	const card = h('section', { class: 'card stack', 'aria-labelledby': 'audit-export' },
		h('h2', { id: 'audit-export' }, 'Export'),
		h('p', 'A signed bundle of ', filters.since || filters.until ? ['the audit entries ', rangeWords(filters.since, filters.until)] : 'the whole audit log',
			', which popvault verify-bundle checks offline. It takes the time range of the filters above only: the actor, type and object filters do not apply to a bundle.'),
		ignored.length ? h('p', { class: 'notice warn' }, `Your ${ignored.join(' and ')} filter${ignored.length > 1 ? 's are' : ' is'} not applied here: the bundle holds every entry of the time range.`) : null,
		h('div', { class: 'row' }, format.row), personal.row,
		h('div', { class: 'buttons' }, btn), out);
	let watched = false;
	function draw(job) {
		if (job.status === 'running') {
			watched = true;
			fill(out, h('progress', { 'aria-label': 'Audit export running' }), h('p', { class: 'muted' }, `Writing audit bundle ${job.id}…`));
			setTimeout(async () => {
				if (!alive()) return;
				try { draw(await api.get(`/audit/exports/${job.id}`)); } catch (err) { fill(out, errorBox(err)); }
			}, 500);
		} else if (job.status === 'done') {
			const cmd = job.verify && job.verify.command;
			fill(out, h('h3', `Audit bundle ${job.id}`),
				h('p', `${num(job.entries)} entries (`, rangeWords(job.since, job.until),
					`), ${job.personal === false ? 'without' : 'with'} the personal data, ${job.format || 'tar.gz'}, ${bytes(job.file_size)}; made `,
					when(job.finished || job.created), job.created_by ? ` by ${job.created_by}.` : '.'),
				h('a', { class: 'button primary', href: job.download, download: job.filename || '' }, `Download audit bundle ${job.id}`),
				cmd ? [h('p', 'The recipient checks it with:'), h('pre', cmd), copyButton(cmd, 'Copy the command')] : null);
			if (watched) announce('The audit bundle is ready.');
			watched = false;
		} else {
			fill(out, h('p', { class: 'notice error' }, `Audit export ${job.id} failed${job.error ? `: ${job.error}` : ''}.`));
			if (watched) announce('The audit export failed.', { error: true });
			watched = false;
		}
		btn.disabled = job.status === 'running';
	}
	btn.addEventListener('click', async () => {
		try {
			const body = { personal: personal.input.checked, format: format.input.value };
			if (filters.since) body.since = filters.since;
			if (filters.until) body.until = filters.until;
			const job = await api.post('/audit/exports', body);
			replace('audit', { ...Object.fromEntries(params), export: job.id });
			watched = true;
			draw(job);
		} catch (err) { fill(out, errorBox(err)); }
	});
	const id = params.get('export');
	if (/^[0-9]+$/.test(id || '')) {
		api.get(`/audit/exports/${id}`).then((job) => { if (alive()) draw(job); }).catch((err) => {
			if (!alive()) return;
			fill(out, err.status === 404
				? h('p', { class: 'notice info' }, `Audit bundle ${id} is no longer known: the server keeps its jobs in memory until it restarts (the file and its audit entries stay). Export again to get a download.`)
				: errorBox(err));
		});
	}
	return card;
}

export async function render({ main, params, alive }) {
	main.appendChild(h('h1', 'Audit trail'));
	const f = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) || '']));
	// Without an offset the newest page is shown (the log is in order, oldest first).
	let offset = params.has('offset') ? Math.max(0, parseInt(params.get('offset'), 10) || 0) : -1;
	const fields = {
		since: field({ label: 'From (UTC)', name: 'since', type: 'datetime-local', value: f.since.replace(/:00Z$|Z$/, ''),
			hint: 'From the start of this minute.' }),
		until: field({ label: 'To (UTC)', name: 'until', type: 'datetime-local', value: f.until.replace(/:59Z$|Z$/, ''),
			hint: 'To the end of this minute, which is included.' }),
		actor: field({ label: 'Actor', name: 'actor', value: f.actor, attrs: { placeholder: 'web:lena' } }),
		type: field({ label: 'Type', name: 'type', value: f.type, attrs: { placeholder: 'view, search, login…', list: 'audit-types' } }),
		object: field({ label: 'Object contains', name: 'object', value: f.object, attrs: { placeholder: 'message=42' } }),
	};
	const types = h('datalist', { id: 'audit-types' }, ['login', 'login-failed', 'logout', 'search', 'view', 'download', 'export',
		'export-done', 'export-remove', 'matter', 'hold-place', 'hold-release', 'policy-set', 'policy-dry-run', 'approval-propose', 'approval-approve',
		'approval-reject', 'break-glass', 'dispose-intent', 'disposal-item', 'disposal-spared', 'dispose-done', 'verify', 'harvest-batch',
		'harvest-request', 'upstream-delete', 'upstream-delete-confirmed', 'upstream-residue', 'account-add',
		'account-change', 'account-remove', 'account-test', 'user-add', 'user-change', 'user-remove', 'heartbeat',
		'anchor', 'key-rotation', 'clock-step', 'audit-export', 'harvest-pause', 'harvest-resume', 'init',
		'store-migrate', 'store-migrate-done', 'catalog-migrate', 'catalog-migrate-done', 'identity-export',
		'identity-join', 'identity-update'].map((t) => h('option', { value: t })));
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'audit-filters' },
		h('h2', { id: 'audit-filters' }, 'Filters'), types,
		h('div', { class: 'grid' }, Object.values(fields).map((x) => x.row)),
		h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Apply filters'),
			h('a', { class: 'button secondary', href: href('audit') }, 'Clear')));
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		go('audit', {
			since: toApiTime(fields.since.input.value), until: toApiTime(fields.until.input.value, true),
			actor: fields.actor.input.value.trim(), type: fields.type.input.value.trim(), object: fields.object.input.value.trim(),
			export: params.get('export'),
		});
	});
	main.appendChild(form);

	const list = h('section', { 'aria-labelledby': 'audit-entries' });
	main.appendChild(list);
	// Full width: the entries' objects and outcomes need the room.
	main.appendChild(viewersCard(params));
	main.appendChild(exportCard(f, params, alive));
	try {
		let r = await api.get('/audit', { ...f, offset: Math.max(0, offset), limit: LIMIT });
		if (offset < 0) {
			// The newest page, on a page boundary: pages never overlap.
			offset = r.total > 0 ? Math.floor((r.total - 1) / LIMIT) * LIMIT : 0;
			if (offset > 0) r = await api.get('/audit', { ...f, offset, limit: LIMIT });
		}
		const total = r.total;
		const pg = pager({ offset, limit: LIMIT, total, noun: 'entries', go: (o) => go('audit', { ...f, offset: o, focus: 'results', export: params.get('export') }) });
		const tbl = entriesTable(r.entries || [], pg, 'Audit entries');
		fill(list, h('h2', { id: 'audit-entries' }, `${num(total)} ${total === 1 ? 'entry' : 'entries'}`),
			h('p', { class: 'muted small-text' }, 'Oldest first, as in the log; the newest page opens first.'), pg.el, tbl);
		if (params.get('focus') === 'results') tbl.focus();
	} catch (err) {
		fill(list, h('h2', { id: 'audit-entries' }, 'Entries'), errorBox(err));
	}
}
