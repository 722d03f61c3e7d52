// Sign-in: user name and password, then the one-time code when the server
// asks for it (401 totp_required). The accessible names "User name",
// "Password" and "Sign in" are part of the contract (DESIGN.md §8).

import { api, setCsrf } from '../lib/api.js';
import { h, field, fill } from '../lib/dom.js';
import { errorBox } from '../lib/dialogs.js';

// ctx: {main, note (a line shown above the form, e.g. "session ended"),
// done(me) called once signed in}.
export function render({ main, note, done }) {
	const user = field({ label: 'User name', name: 'user', attrs: { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' } });
	const pass = field({ label: 'Password', name: 'password', type: 'password', attrs: { autocomplete: 'current-password', required: true } });
	const code = field({
		label: 'One-time code', name: 'totp', hint: 'The six digits your authenticator app shows now.',
		attrs: { autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6 },
	});
	code.row.hidden = true;
	const msg = h('div', { class: 'messages' });
	const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
	const form = h('form', { class: 'card signin stack', novalidate: true, 'aria-labelledby': 'signin-title' },
		h('h1', { id: 'signin-title' }, 'Sign in to popvault'),
		note ? h('p', { class: 'notice info', role: 'status' }, note) : null,
		msg, user.row, pass.row, code.row,
		h('div', { class: 'buttons' }, button));

	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		fill(msg);
		if (!user.input.value || !pass.input.value) {
			fill(msg, h('div', { class: 'notice error', role: 'alert' }, 'Enter your user name and password.'));
			(user.input.value ? pass.input : user.input).focus();
			return;
		}
		const body = { user: user.input.value, password: pass.input.value };
		if (!code.row.hidden) {
			if (!/^[0-9]{6}$/.test(code.input.value)) {
				fill(msg, h('div', { class: 'notice error', role: 'alert' }, 'Enter the six digits of your one-time code.'));
				code.input.focus();
				return;
			}
			body.totp = code.input.value;
		}
		button.disabled = true;
		try {
			const r = await api.post('/session', body, { quiet401: true });
			setCsrf(r.csrf);
			const me = await api.get('/me');
			done(me);
		} catch (err) {
			if (err.code === 'totp_required') {
				code.row.hidden = false;
				fill(msg, h('p', { class: 'notice info', role: 'status' }, 'Your password is right. Now enter the one-time code from your authenticator app.'));
				code.input.focus();
			} else {
				const shown = err.code === 'unauthorized'
					? { message: code.row.hidden ? 'The user name or password is wrong.' : 'The user name, password or one-time code is wrong.' }
					: err;
				fill(msg, errorBox(shown));
				// With the code asked for, a wrong one is the likely mistake
				// (the password was right a moment ago): the code is retyped.
				const again = code.row.hidden ? pass.input : code.input;
				again.select();
				again.focus();
			}
		} finally {
			button.disabled = false;
		}
	});
	fill(main, form);
	user.input.focus();
}
