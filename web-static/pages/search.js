// Search (legal): one query box with the operator help beside it and a
// syntax check as you type (GET /search/check), results as a table with the
// total (counted up to 10,000, then "more than 10,000" with a button that
// counts them all), paging through every match (PageDown/PageUp in the table), sort
// by date or relevance, browse by account; the results → place a hold,
// export, or save as a matter search.

import { api } from '../lib/api.js';
import { h, field, select, fill, when, num, bytes, clipIcon } from '../lib/dom.js';
import { table, pager } from '../lib/table.js';
import { go, href, current } from '../lib/router.js';
import { ask, errorBox, announce, okBox, words } from '../lib/dialogs.js';
import { syntaxChecker } from '../lib/syntax.js';

const LIMIT = 50;
// Set by a search sent from the box: the page drawn for it keeps the
// focus in the box (Enter, then Enter again with a changed query).
let keepFocus = false;

const HELP = [
	['from: to: cc: bcc:', 'a sender or recipient: from:carol or from:"Carol Smith"'],
	['participant:', 'any of from, to, cc and bcc'],
	['subject: body:', 'words in the subject or the text'],
	['filename:', 'attachment names and types: filename:pdf'],
	['has:attachment', 'messages with attachments'],
	['after: before: on:', 'days in UTC: after:2026-01-01 before:2026-07-01'],
	['larger: smaller:', 'stored size: larger:5M'],
	['account:', 'one upstream account, exactly: account:alice'],
	['message-id:', 'the Message-ID header, exactly'],
	['"a phrase"', 'words next to each other'],
	['AND OR NOT -', 'in capitals; words side by side mean AND; -word leaves out'],
	['( )', 'group: (from:carol OR from:dan) subject:filing'],
];

function helpPanel() {
	return h('aside', { class: 'card help', 'aria-labelledby': 'search-help' },
		h('h2', { id: 'search-help' }, 'Search operators'),
		h('dl', HELP.flatMap(([op, what]) => [h('dt', h('code', op)), h('dd', what)])),
		h('h3', 'Keyboard'),
		h('p', { class: 'small-text' }, h('kbd', 'PageDown'), ' / ', h('kbd', 'PageUp'),
			' in the results: next / previous page. ', h('kbd', '/'), ': back to the search box.'));
}

async function matterNames() {
	const r = await api.get('/matters');
	return (r.matters || []).map((m) => m.name);
}

// Asks for a matter (an existing one, or a new one's name) and what else
// the action needs, then does it with the dialog open: a new matter is
// confirmed ("Create matter X?") and created only then, right before the
// action; when the action then fails the dialog says the matter was made.
// opts: {title, fields, confirm, failed (words: "the hold was not placed"),
// action(name, values) -> result}. Resolves to {name, values, result,
// created} or null.
async function pickMatter({ title, fields: extra, confirm, failed, action }) {
	let names = [];
	try { names = await matterNames(); } catch { names = []; }
	const fields = [{ label: 'Matter', name: 'matter', attrs: { list: 'matter-names', required: true },
		hint: names.length ? 'An existing matter, or a new name to create one.' : 'A name for a new matter.' }, ...extra];
	const dl = h('datalist', { id: 'matter-names' }, names.map((n) => h('option', { value: n })));
	document.body.appendChild(dl);
	let created = null;
	try {
		const a = await ask({ title, fields, confirm, submit: async ({ values }) => {
			const name = values.matter.trim();
			if (!names.includes(name)) {
				const yes = await ask({ title: `Create matter “${name}”?`, confirm: 'Create matter',
					body: `There is no matter “${name}” yet. Matters cannot be deleted: check the name.` });
				if (!yes) throw new Error('No matter was created. Pick an existing matter or confirm the new name.');
				await api.post('/matters', { name });
				names.push(name);
				created = name;
			}
			try {
				return await action(name, values);
			} catch (err) {
				if (created !== name) throw err;
				throw new Error(`The matter “${name}” was created, but ${failed}: ${words(err)}`);
			}
		} });
		return a ? { name: a.values.matter.trim(), values: a.values, result: a.result, created } : null;
	} finally {
		dl.remove();
	}
}

export async function render({ main, params }) {
	const q = params.get('q') || '';
	const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
	const sort = params.get('sort') === 'relevance' ? 'relevance' : 'date';
	const order = params.get('order') === 'asc' ? 'asc' : 'desc';
	// total=exact: count every match ("Count all"); else up to 10,000.
	const exactTotal = params.get('total') === 'exact';
	// An empty query lists everything: the address says so with all=1.
	const run = params.has('q') || params.get('all') === '1';
	const state = (over) => ({ q, all: q ? '' : 1, offset, sort: sort === 'date' ? '' : sort, order: order === 'desc' ? '' : order,
		total: exactTotal ? 'exact' : '', ...over });

	main.appendChild(h('h1', 'Search'));
	const box = h('input', { type: 'search', id: 'q', name: 'q', 'aria-label': 'Search',
		'aria-describedby': 'q-syntax', autocomplete: 'off', spellcheck: 'false',
		placeholder: 'from:carol subject:filing after:2026-01-01' });
	box.value = q;
	const syntax = h('p', { id: 'q-syntax', class: 'syntax muted', 'aria-live': 'polite' });
	const sortSel = select({ label: 'Sort by', name: 'sort', value: `${sort}-${order}`, options: [
		['date-desc', 'Date, newest first'], ['date-asc', 'Date, oldest first'], ['relevance-desc', 'Relevance'],
	] });
	const form = h('form', { class: 'search-box', role: 'search' },
		h('div', { class: 'row' }, h('div', { class: 'field' }, box), h('button', { type: 'submit', class: 'primary' }, 'Search')),
		syntax,
		h('div', { class: 'row' }, sortSel.row));
	const check = syntaxChecker(box, syntax);
	box.addEventListener('input', check);
	form.addEventListener('submit', (e) => {
		e.preventDefault();
		const [s, o] = sortSel.input.value.split('-');
		keepFocus = true;
		go('search', { q: box.value, all: box.value ? '' : 1, sort: s === 'relevance' ? s : '', order: o === 'asc' ? o : '' });
	});
	sortSel.input.addEventListener('change', () => {
		if (!run) return;
		const [s, o] = sortSel.input.value.split('-');
		go('search', state({ offset: 0, sort: s === 'relevance' ? s : '', order: o === 'asc' ? o : '' }));
	});

	const acct = field({ label: 'Browse an account', name: 'account', attrs: { placeholder: 'account name' } });
	const browse = h('form', { class: 'row' }, acct.row, h('button', { type: 'submit' }, 'Browse'));
	browse.addEventListener('submit', (e) => {
		e.preventDefault();
		const name = acct.input.value.trim();
		if (name) go('search', { q: `account:${/[\s"()]/.test(name) ? `"${name.replace(/"/g, '')}"` : name}` });
	});

	const results = h('section', { 'aria-labelledby': 'results-title', class: 'results' });
	main.appendChild(h('div', { class: 'search-layout' },
		h('div', { class: 'stack' }, form, results), h('div', { class: 'stack' }, helpPanel(), h('div', { class: 'card' }, browse))));

	document.addEventListener('keydown', function slash(e) {
		if (!main.contains(box)) { document.removeEventListener('keydown', slash); return; }
		if (e.key === '/' && !/^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement.tagName)) {
			e.preventDefault();
			box.focus();
		}
	});

	if (q) check();
	const keepFocusNow = keepFocus;
	if (keepFocus) {
		keepFocus = false;
		box.focus();
	}
	if (!run) {
		fill(results, h('h2', { id: 'results-title', class: 'muted' }, 'Type a query and press Search (an empty one lists everything).'));
		box.focus();
		return;
	}
	let r;
	try {
		const args = { q, offset, limit: LIMIT, sort, order };
		if (exactTotal) args.total = 'exact';
		r = await api.get('/search', args);
	} catch (err) {
		fill(results, h('h2', { id: 'results-title' }, 'No results'), errorBox(err, err.code === 'bad_query' ? 'The query does not parse' : null));
		if (err.code === 'bad_query') box.setAttribute('aria-invalid', 'true');
		announce(err.code === 'bad_query' ? `The query does not parse: ${words(err)}` : words(err), { error: true });
		return;
	}
	// r.total_exact false: r.total is a lower bound, there are more
	const exact = r.total_exact !== false;
	const shown = (r.results || []).length;
	const many = exact ? num(r.total) : `more than ${num(r.total)}`;
	const noun = exact && r.total === 1 ? 'message' : 'messages';
	const pg = pager({ offset, limit: LIMIT, total: r.total, noun, exact, shown,
		go: (o) => go('search', state({ offset: o, focus: 'results' })) });
	const pgBottom = pager({ offset, limit: LIMIT, total: r.total, noun, exact, shown,
		go: (o) => go('search', state({ offset: o })), label: 'Pages (bottom)' });
	// The message opened from here comes back as from=ID (its page's back
	// link, or Back in the browser: the click notes it in this page's own
	// history entry): its link gets the focus again, where the user was.
	const from = params.get('from');
	let fromLink = null;
	const openLink = (m) => {
		const a = h('a', { href: href(`message/${m.id}`, { back: location.hash }), title: m.subject || null },
			m.subject || '(no subject)');
		a.addEventListener('click', () => {
			const here = current();
			if (here.params.get('from') === String(m.id)) return;
			here.params.set('from', String(m.id));
			here.params.delete('focus');
			history.replaceState(null, '', `#/${here.path}?${here.params}`);
		});
		if (from && String(m.id) === from) fromLink = a;
		return a;
	};
	const tbl = table({
		label: 'Search results',
		columns: [
			{ label: 'Date', cls: 'date', render: (m) => when(m.date) },
			{ label: 'From', cls: 'from break hide-narrow', render: (m) => m.from || '' },
			{ label: 'Subject', cls: 'subject', render: (m) => [openLink(m),
				h('span', { class: 'show-narrow muted small-text' }, m.from || '')] },
			{ label: 'Account', cls: 'hide-narrow', render: (m) => m.account },
			{ label: 'Size', cls: 'num hide-narrow nowrap', render: (m) => [m.has_attachment ? clipIcon('has attachments') : '', ' ', bytes(m.size)] },
		],
		rows: r.results || [],
		empty: 'No message matches.',
		pager: pg,
		stack: false,
	});

	const actions = h('div', { class: 'selection-bar', role: 'group', 'aria-label': 'Act on these results' },
		h('span', { class: 'muted' }, exact ? `All ${num(r.total)} results of this search:` : `All results of this search (${many}):`));
	// A hold without a query would hold everything: it needs one.
	const holdB = h('button', { type: 'button', 'aria-describedby': q ? null : 'hold-needs-query',
		title: q ? null : 'A hold needs a query: search for what to hold first.' }, 'Place hold…');
	holdB.disabled = !q;
	// Nothing to export when nothing matches.
	const exportB = h('button', { type: 'button', 'aria-describedby': r.total === 0 ? 'export-needs-results' : null }, 'Export…');
	exportB.disabled = r.total === 0;
	const saveB = h('button', { type: 'button' }, 'Save to matter…');
	const note = h('div');
	actions.append(holdB, exportB, saveB);
	if (!q) actions.append(h('span', { id: 'hold-needs-query', class: 'muted small-text' }, 'A hold needs a query.'));
	if (r.total === 0) actions.append(h('span', { id: 'export-needs-results', class: 'muted small-text' }, 'No message to export.'));
	holdB.addEventListener('click', async () => {
		fill(note);
		const m = await pickMatter({ title: `Place a hold on ${many} messages`, confirm: 'Place hold',
			fields: [
				{ label: 'Hold name', name: 'name', attrs: { required: true } },
				{ label: 'Note', name: 'note', tag: 'textarea', attrs: { rows: 2 } },
			],
			failed: 'the hold was not placed',
			action: (matter, v) => {
				const body = { name: v.name.trim(), query: q, matter };
				if (v.note.trim()) body.note = v.note.trim();
				return api.post('/holds', body);
			} });
		if (!m) return;
		fill(note, okBox(`Hold “${m.result.name}” placed: it covers ${num(m.result.members)} messages, and later mail that matches.`));
		announce(`Hold ${m.result.name} placed.`);
	});
	exportB.addEventListener('click', async () => {
		fill(note);
		const m = await pickMatter({ title: `Export ${many} messages`, confirm: 'Start export',
			fields: [
				{ label: 'Bates prefix', name: 'bates', hint: 'Optional; the matter’s own once it has an export.', attrs: { pattern: '[A-Za-z0-9_-]{0,32}' } },
			],
			failed: 'the export did not start',
			action: (matter, v) => {
				const body = { query: q, matter, format: 'zip' };
				if (v.bates.trim()) body.bates_prefix = v.bates.trim();
				return api.post('/exports', body);
			} });
		if (!m) return;
		announce(`Export ${m.result.id} started.`);
		go(`matters/${m.name}`, { export: m.result.id });
	});
	saveB.addEventListener('click', async () => {
		fill(note);
		const m = await pickMatter({ title: 'Save this search to a matter', confirm: 'Save search',
			fields: [{ label: 'Search name', name: 'name', attrs: { required: true } }],
			failed: 'the search was not saved',
			action: (matter, v) => api.post(`/matters/${encodeURIComponent(matter)}/searches`, { name: v.name.trim(), query: q }) });
		if (!m) return;
		fill(note, okBox(h('span', `Saved to the matter `, h('a', { href: href(`matters/${m.name}`) }, m.name), '.')));
		announce(`Search saved to the matter ${m.name}.`);
	});

	// Counting every match of a common word takes a while at a million
	// messages: asked for, not done on every page.
	let title = h('h2', { id: 'results-title' }, `${exact ? num(r.total) : `More than ${num(r.total)}`} ${noun}`);
	if (!exact) {
		const countAll = h('button', { type: 'button', class: 'secondary', id: 'count-all' }, 'Count all');
		countAll.addEventListener('click', () => go('search', state({ total: 'exact' })));
		title = h('div', { class: 'row' }, title, countAll);
	}
	fill(results, title, actions, note, pg.el, tbl, !exact || r.total > LIMIT ? pgBottom.el : null);
	announce(r.total === 0 ? 'No message matches.' : `${exact ? num(r.total) : `More than ${num(r.total)}`} ${noun}`);
	if (params.get('focus') === 'results') tbl.focus();
	else if (fromLink && !keepFocusNow) fromLink.focus();
}
