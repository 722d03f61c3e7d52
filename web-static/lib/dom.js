// Building the page through the DOM, never from HTML strings: every text
// given here becomes a text node (or an attribute value), so data from the
// archive cannot turn into markup (STYLE.md habit 14).

const SVG_NS = 'http://www.w3.org/2000/svg';

function put(el, key, value) {
	if (value === undefined || value === null || value === false) return;
	if (key.startsWith('on') && typeof value === 'function') {
		el.addEventListener(key.slice(2).toLowerCase(), value);
	} else if (key === 'class') {
		el.setAttribute('class', Array.isArray(value) ? value.filter(Boolean).join(' ') : value);
	} else if (key === 'dataset') {
		Object.assign(el.dataset, value);
	} else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'indeterminate') {
		el[key] = value;
	} else if (key === 'style') {
		// An inline style attribute would break the CSP (style-src 'self').
		throw new Error('dom: no inline style; use a class');
	} else {
		el.setAttribute(key, value === true ? '' : String(value));
	}
}

function add(el, child) {
	if (child === undefined || child === null || child === false) return;
	if (Array.isArray(child)) {
		for (const c of child) add(el, c);
	} else if (child instanceof Node) {
		el.appendChild(child);
	} else {
		el.appendChild(document.createTextNode(String(child)));
	}
}

// h('a', {href: '#/x', class: 'y'}, 'text', child, [more]): an element.
export function h(tag, attrs, ...children) {
	const el = document.createElement(tag);
	if (attrs && !(attrs instanceof Node) && !Array.isArray(attrs) && typeof attrs === 'object') {
		for (const [k, v] of Object.entries(attrs)) put(el, k, v);
	} else {
		add(el, attrs);
	}
	add(el, children);
	return el;
}

// s('rect', {x: 1, ...}): an SVG element (charts, the QR code).
export function s(tag, attrs, ...children) {
	const el = document.createElementNS(SVG_NS, tag);
	for (const [k, v] of Object.entries(attrs || {})) {
		if (v !== undefined && v !== null) el.setAttribute(k, String(v));
	}
	add(el, children);
	return el;
}

// Replaces everything inside el with the children given.
export function fill(el, ...children) {
	el.replaceChildren();
	add(el, children);
	return el;
}

let ids = 0;
// A fresh id for label/for and aria-describedby pairs.
export function uid(prefix) {
	ids += 1;
	return `${prefix || 'id'}-${ids}`;
}

// A labelled form field: {label, type, name, value, hint, attrs}. Returns
// {row, input}; the hint is tied to the input with aria-describedby.
// options: [[value, text], ...] for tag 'select'; a checkbox comes
// before its label on one line.
export function field({ label, type = 'text', name, value, hint, attrs = {}, tag = 'input', options }) {
	const id = uid(name || 'f');
	const input = tag === 'input' ? h('input', { id, name, type, ...attrs })
		: h(tag, { id, name, ...attrs });
	for (const [v, t] of options || []) input.appendChild(h('option', { value: v }, t));
	if (type === 'checkbox') input.checked = Boolean(value);
	else if (value !== undefined && value !== null) input.value = value;
	const lab = h('label', { for: id }, label);
	const row = type === 'checkbox' ? h('div', { class: 'field inline' }, input, lab)
		: h('div', { class: 'field' }, lab, input);
	if (hint) {
		const hid = uid('hint');
		row.appendChild(h('p', { class: 'hint', id: hid }, hint));
		input.setAttribute('aria-describedby', hid);
	}
	return { row, input };
}

// A <select> with options [[value, text], ...].
export function select({ label, name, options, value, hint }) {
	return field({ label, name, tag: 'select', hint, options, value });
}

// Times are shown in UTC, the zone named ("5 Dec 2026, 14:03 UTC"): the
// search's after:/before: and the audit filters are in UTC too.
const dateFmt = new Intl.DateTimeFormat(undefined, {
	year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
	timeZone: 'UTC', timeZoneName: 'short',
});
const shortFmt = new Intl.DateTimeFormat(undefined, {
	month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC', timeZoneName: 'short',
});
const dayFmt = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', timeZone: 'UTC' });
const minuteFmt = new Intl.DateTimeFormat(undefined, {
	year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', timeZone: 'UTC',
});
const numFmt = new Intl.NumberFormat();

// A Date in words, in UTC with the zone: 'full' (the default), 'short'
// (no year: charts) or 'day' (the day in UTC, "(UTC)" after it).
export function timeText(d, style) {
	if (style === 'day') return `${dayFmt.format(d)} (UTC)`;
	return (style === 'short' ? shortFmt : dateFmt).format(d);
}

// The minute a time falls in, as a key and in words without the zone
// (grouping entries of one minute).
export function minuteOf(t) {
	const d = new Date(t);
	return Number.isNaN(d.getTime()) ? String(t) : minuteFmt.format(d);
}

// A <time> for an ISO 8601 string or unix seconds, in UTC; '—' when unknown.
export function when(t, dayOnly) {
	if (t === undefined || t === null || t === '') return h('span', { class: 'muted' }, '—');
	const d = typeof t === 'number' ? new Date(t * 1000) : new Date(t);
	if (Number.isNaN(d.getTime())) return h('span', String(t));
	return h('time', { datetime: d.toISOString() }, timeText(d, dayOnly ? 'day' : 'full'));
}

export function num(n) {
	return typeof n === 'number' ? numFmt.format(n) : (n === undefined || n === null ? '—' : String(n));
}

export function bytes(n) {
	if (typeof n !== 'number') return '—';
	const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
	let i = 0;
	let v = n;
	while (v >= 1024 && i < units.length - 1) { v /= 1024; i += 1; }
	return i === 0 ? `${numFmt.format(v)} bytes` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

// A button that copies text to the clipboard (verifier keys).
export function copyButton(text, label) {
	const b = h('button', { type: 'button', class: 'small' }, label || 'Copy');
	b.addEventListener('click', async () => {
		try {
			await navigator.clipboard.writeText(text);
			b.textContent = 'Copied';
		} catch {
			b.textContent = 'Select and copy by hand';
		}
		setTimeout(() => { b.textContent = label || 'Copy'; }, 2000);
	});
	return b;
}

// A button whose visible text is short ("Remove") and whose accessible name
// says what it acts on ("Remove bob"): the rest is visually hidden.
export function actionButton(text, object, cls) {
	return h('button', { type: 'button', class: cls || 'small' }, text, h('span', { class: 'hide-visually' }, ` ${object}`));
}

// A small paperclip (no emoji font is assumed): an image named by label.
export function clipIcon(label) {
	return s('svg', { class: 'icon', viewBox: '0 0 16 16', width: 14, height: 14, role: 'img', 'aria-label': label },
		s('title', {}, label),
		s('path', { d: 'M10.5 4.5v6a2.5 2.5 0 0 1-5 0V4a1.5 1.5 0 0 1 3 0v6a.5.5 0 0 1-1 0V5', fill: 'none',
			stroke: 'currentColor', 'stroke-width': 1.3, 'stroke-linecap': 'round' }));
}
