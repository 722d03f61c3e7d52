// Messages and questions: an error box in words a user understands, a
// status line read out by screen readers, and modal <dialog>s (the browser
// keeps focus inside them and Escape closes them).

import { h, field, fill, uid } from './dom.js';
import { ApiError } from './api.js';

// The words for an error of any kind.
export function words(err) {
	if (err instanceof ApiError) return err.message;
	if (err && err.message) return err.message;
	return 'Something went wrong.';
}

// <div role="alert"> with the error's words (the parser's own message for a
// bad query or policy, with "where" when the server gives a position).
export function errorBox(err, title) {
	return h('div', { class: 'notice error', role: 'alert' },
		title ? h('strong', `${title}: `) : null, words(err));
}

export function okBox(text) {
	return h('div', { class: 'notice ok', role: 'status' }, text);
}

// Shows text in the page's live region (#status), cleared after a while.
// error: a failure, drawn red (not in the green of a success).
export function announce(text, { error = false } = {}) {
	const el = document.getElementById('status');
	if (!el) return;
	el.classList.toggle('error', error);
	fill(el, text);
	clearTimeout(announce.timer);
	announce.timer = setTimeout(() => fill(el), 8000);
}

// An error about one field of a dialog (thrown by a submit step): shown in
// the dialog, the field marked invalid and focused.
export class FieldError extends Error {
	constructor(field, message) {
		super(message);
		this.field = field;
	}
}

// The dialogs open now, each with its title and a way to close it as if
// cancelled (closeAll: the session ended under them).
const openDialogs = new Set();

// Closes every open dialog, each resolving as cancelled (ask: null).
// Returns the titles of the questions (ask) that were open: left
// unanswered, what they would have done was not done.
export function closeAll() {
	const titles = [];
	for (const d of [...openDialogs]) {
		if (d.question) titles.push(d.title);
		d.close();
	}
	return titles;
}

// A modal question. opts: {title, body (text or nodes), confirm (button
// text), danger, reason: {label, required}, fields: [{label, name, type,
// value, hint}], submit}. Resolves to null when cancelled, else {reason,
// values, result}.
// submit(answer) (optional, async): the request the dialog makes, run
// while it stays open; what it throws is shown inside the dialog, which
// keeps what was typed, and the user may correct it or cancel; what it
// returns is answer.result once it closes.
export function ask(opts) {
	return new Promise((resolve) => {
		const inputs = {};
		let reasonInput = null;
		const form = h('form', { method: 'dialog', class: 'stack' });
		// Its own id: a question may be asked over another dialog.
		const tid = uid('dialog-title');
		const heading = h('h2', { id: tid }, opts.title);
		form.appendChild(heading);
		// The body (a warning, a summary) is the dialog's description: read
		// out with its title when it opens.
		const bid = opts.body ? uid('dialog-body') : null;
		if (opts.body) form.appendChild(h('div', { class: 'dialog-body', id: bid }, opts.body));
		for (const f of opts.fields || []) {
			const { row, input } = field(f);
			if (f.required) input.required = true;
			inputs[f.name] = input;
			input.addEventListener('input', () => input.removeAttribute('aria-invalid'));
			form.appendChild(row);
		}
		if (opts.reason) {
			const { row, input } = field({ label: opts.reason.label || 'Reason', name: 'reason', tag: 'textarea',
				attrs: { rows: 3 } });
			if (opts.reason.required) input.required = true;
			reasonInput = input;
			form.appendChild(row);
		}
		const err = h('div', { class: 'dialog-error' });
		form.appendChild(err);
		const cancel = h('button', { type: 'button', class: 'secondary' }, 'Cancel');
		const label = opts.confirm || 'OK';
		const ok = h('button', { type: 'submit', class: opts.danger ? 'danger' : 'primary' }, label);
		form.appendChild(h('div', { class: 'buttons' }, ok, cancel));
		const dlg = h('dialog', { 'aria-labelledby': tid, 'aria-describedby': bid }, form);
		document.body.appendChild(dlg);
		let done = false;
		let busy = false;
		const entry = { title: opts.title, question: true, close: () => finish(null) };
		const finish = (v) => {
			if (done) return;
			done = true;
			openDialogs.delete(entry);
			dlg.close();
			dlg.remove();
			resolve(v);
		};
		openDialogs.add(entry);
		// While the request is on its way the dialog waits for its answer.
		const setBusy = (on) => {
			busy = on;
			ok.disabled = on;
			cancel.disabled = on;
			dlg.setAttribute('aria-busy', on ? 'true' : 'false');
			fill(ok, on ? `${label}…` : label);
		};
		const failed = (x) => {
			fill(err, errorBox(x));
			const bad = x && x.field && inputs[x.field];
			if (bad) { bad.setAttribute('aria-invalid', 'true'); bad.focus(); } else ok.focus();
		};
		cancel.addEventListener('click', () => finish(null));
		dlg.addEventListener('cancel', (e) => { e.preventDefault(); if (!busy) finish(null); });
		form.addEventListener('submit', async (e) => {
			e.preventDefault();
			if (busy || !form.reportValidity()) return;
			const values = {};
			for (const [k, i] of Object.entries(inputs)) values[k] = i.type === 'checkbox' ? i.checked : i.value;
			const answer = { reason: reasonInput ? reasonInput.value.trim() : undefined, values };
			if (!opts.submit) { finish(answer); return; }
			fill(err);
			setBusy(true);
			try {
				answer.result = await opts.submit(answer);
			} catch (x) {
				if (done) return;
				setBusy(false);
				failed(x);
				return;
			}
			if (!done) finish(answer);
		});
		dlg.showModal();
		const first = form.querySelector('input, textarea, select');
		(first || ok).focus();
	});
}

// A modal that only shows something (the TOTP QR code, an inclusion proof).
export function show(title, body) {
	return new Promise((resolve) => {
		const close = h('button', { type: 'button', class: 'primary' }, 'Close');
		const tid = uid('dialog-title');
		const bid = body ? uid('dialog-body') : null;
		const dlg = h('dialog', { 'aria-labelledby': tid, 'aria-describedby': bid, class: 'wide' },
			h('h2', { id: tid }, title), h('div', { class: 'dialog-body', id: bid }, body),
			h('div', { class: 'buttons' }, close));
		document.body.appendChild(dlg);
		const entry = { title, close: () => finish() };
		const finish = () => { openDialogs.delete(entry); dlg.close(); dlg.remove(); resolve(); };
		openDialogs.add(entry);
		close.addEventListener('click', finish);
		dlg.addEventListener('cancel', (e) => { e.preventDefault(); finish(); });
		dlg.showModal();
		close.focus();
	});
}
