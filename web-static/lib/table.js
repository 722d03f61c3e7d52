// Tables and paging, shared by every list (STYLE.md habit 12: every list
// pages). A table is wrapped in a focusable region so it scrolls sideways
// on a phone, and PageDown/PageUp inside it turn the page.

import { h, num } from './dom.js';

// opts: {caption, columns: [{key, label, cls, render(row), sortKey}],
// rows, key(row) -> id, selected (Set of ids; adds checkboxes),
// onSelect(), sort: {key, dir, set(key, dir)}, empty (text), pager}.
export function table(opts) {
	const { columns, rows, selected } = opts;
	const headRow = h('tr');
	let allBox = null;
	if (selected) {
		allBox = h('input', { type: 'checkbox', 'aria-label': 'Select all on this page' });
		headRow.appendChild(h('th', { class: 'check', scope: 'col' }, allBox));
	}
	for (const c of columns) {
		const th = h('th', { scope: 'col', class: c.cls });
		if (opts.sort && c.sortKey) {
			const active = opts.sort.key === c.sortKey;
			th.setAttribute('aria-sort', active ? (opts.sort.dir === 'asc' ? 'ascending' : 'descending') : 'none');
			const b = h('button', { type: 'button', class: 'sort' }, c.label,
				active ? (opts.sort.dir === 'asc' ? ' ▲' : ' ▼') : '');
			b.addEventListener('click', () => {
				const dir = active && opts.sort.dir === 'desc' ? 'asc' : 'desc';
				opts.sort.set(c.sortKey, dir);
			});
			th.appendChild(b);
		} else {
			th.appendChild(document.createTextNode(c.label));
		}
		headRow.appendChild(th);
	}
	const body = h('tbody');
	const boxes = [];
	for (const row of rows) {
		const tr = h('tr');
		if (selected) {
			const id = opts.key(row);
			const box = h('input', { type: 'checkbox', 'aria-label': `Select ${opts.rowLabel ? opts.rowLabel(row) : id}` });
			box.checked = selected.has(id);
			box.addEventListener('change', () => {
				if (box.checked) selected.add(id); else selected.delete(id);
				syncAll();
				if (opts.onSelect) opts.onSelect();
			});
			boxes.push([box, id]);
			tr.appendChild(h('td', { class: 'check' }, box));
		}
		for (const c of columns) {
			const v = c.render ? c.render(row) : row[c.key];
			// One wrapper, so a stacked cell is two grid items: its label and this.
			tr.appendChild(h('td', { class: c.cls, 'data-label': c.label }, h('div', v === undefined || v === null ? '' : v)));
		}
		body.appendChild(tr);
	}
	if (!rows.length) {
		body.appendChild(h('tr', h('td', { colspan: columns.length + (selected ? 1 : 0), class: 'muted' },
			opts.empty || 'Nothing to show.')));
	}
	function syncAll() {
		if (!allBox) return;
		const n = boxes.filter(([b]) => b.checked).length;
		allBox.checked = boxes.length > 0 && n === boxes.length;
		allBox.indeterminate = n > 0 && n < boxes.length;
	}
	if (allBox) {
		allBox.addEventListener('change', () => {
			for (const [b, id] of boxes) {
				b.checked = allBox.checked;
				if (allBox.checked) selected.add(id); else selected.delete(id);
			}
			if (opts.onSelect) opts.onSelect();
		});
		syncAll();
	}
	// On a phone a table becomes one card per row, each cell with its
	// column's name (CSS); the explicit roles keep it a table for screen
	// readers whatever the display. opts.stack === false keeps the columns.
	const t = h('table', { class: opts.stack === false ? null : 'stack-narrow' },
		opts.caption ? h('caption', opts.caption) : null, h('thead', headRow), body);
	if (opts.stack !== false) {
		t.setAttribute('role', 'table');
		for (const g of t.querySelectorAll('thead, tbody')) g.setAttribute('role', 'rowgroup');
		for (const r of t.querySelectorAll('tr')) r.setAttribute('role', 'row');
		for (const c of t.querySelectorAll('th')) c.setAttribute('role', 'columnheader');
		for (const c of t.querySelectorAll('td')) c.setAttribute('role', 'cell');
	}
	const wrap = h('div', { class: 'table-wrap', tabindex: '0', role: 'region',
		'aria-label': opts.label || opts.caption || 'Table' }, t);
	if (opts.pager) {
		wrap.addEventListener('keydown', (e) => {
			if (e.target !== wrap && e.target.tagName !== 'INPUT' && e.target.tagName !== 'A' && e.target.tagName !== 'BUTTON') return;
			if (e.key === 'PageDown' && opts.pager.next) { e.preventDefault(); opts.pager.next(); }
			if (e.key === 'PageUp' && opts.pager.prev) { e.preventDefault(); opts.pager.prev(); }
		});
	}
	return wrap;
}

// Paging controls: "Showing 51–100 of 1,234" and Previous/Next. opts:
// {offset, limit, total, go(offset), noun}. Returns the element and
// {next, prev} (null at the ends) for keyboard paging.
// exact: false when total is only a lower bound (a search counts up to
// 10,000): the count says "more than", and Next stays on while this page
// (shown rows) is full.
// An offset off the page boundaries (an address edited by hand) still
// counts right: the pages before it, and those from it on.
export function pager({ offset, limit, total, go, noun = 'results', label = 'Pages', exact = true, shown = 0 }) {
	const first = (exact ? total : shown) === 0 ? 0 : offset + 1;
	const last = exact ? Math.min(offset + limit, total) : offset + shown;
	const before = Math.ceil(offset / limit);
	const pages = before + Math.max(1, Math.ceil((total - offset) / limit));
	const page = before + 1;
	const past = exact && total > 0 && offset >= total;
	const prev = offset > 0 ? () => go(Math.max(0, offset - limit)) : null;
	const more = exact ? offset + limit < total : shown === limit;
	const next = more ? () => go(offset + limit) : null;
	const bPrev = h('button', { type: 'button', class: 'secondary', 'aria-keyshortcuts': 'PageUp' }, '← Previous');
	const bNext = h('button', { type: 'button', class: 'secondary', 'aria-keyshortcuts': 'PageDown' }, 'Next →');
	bPrev.disabled = !prev;
	bNext.disabled = !next;
	if (prev) bPrev.addEventListener('click', prev);
	if (next) bNext.addEventListener('click', next);
	const el = h('nav', { class: 'pager', 'aria-label': label },
		h('span', { class: 'count' }, !exact ? (shown === 0 ? `No ${noun} past ${num(offset)} (more than ${num(total)} in all)`
			: `${num(first)}–${num(last)} of more than ${num(total)} ${noun}`)
			: total === 0 ? `No ${noun}` : past ? `No ${noun} past ${num(offset)} (${num(total)} in all)`
				: `${num(first)}–${num(last)} of ${num(total)} ${noun}`),
		h('span', { class: 'muted' }, exact ? `page ${num(page)} of ${num(pages)}` : `page ${num(page)}`),
		h('span', { class: 'spacer' }), bPrev, bNext);
	return { el, next, prev };
}
