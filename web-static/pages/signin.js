// Sign-in: user name and password, then what the server asks for:
// a new password when that one was set by an administrator (401
// password_change_required: it works once), the one-time code (401
// totp_required), or a second factor to set up first (401
// totp_not_enrolled: the QR code of a fresh secret, then a code from it).
// One sign-in may need all of them; the last request carries each. An
// account an administrator set up for a legal or compliance user is shut
// (401 access_not_approved; access_refused once refused or withdrawn) until
// a compliance officer approves it: said, and
// nothing else is asked. The accessible names "User name", "Password",
// "One-time code" and "Sign in" are part of the contract (DESIGN.md §8).

import { api, setCsrf } from '../lib/api.js';
import { h, field, fill, uid } from '../lib/dom.js';
import { errorBox } from '../lib/dialogs.js';
import { secretView } from '../lib/totp_setup.js';

function alertBox(text) {
	return h('div', { class: 'notice error', role: 'alert' }, text);
}

function statusBox(text) {
	return h('p', { class: 'notice info', role: 'status' }, text);
}

// A refusal about one field, said under it; the field marked and focused
// with its text selected, ready to be typed again.
function fieldError(f, text) {
	const box = alertBox(text);
	box.id = uid('field-error');
	box.classList.add('field-error');
	f.row.appendChild(box);
	f.input.setAttribute('aria-invalid', 'true');
	f.input.setAttribute('aria-describedby', [f.input.getAttribute('aria-describedby'), box.id].filter(Boolean).join(' '));
	f.input.select();
	f.input.focus();
}

function clearFieldErrors(form) {
	for (const box of form.querySelectorAll('.field-error')) {
		const input = box.parentElement.querySelector('input');
		const rest = (input.getAttribute('aria-describedby') || '').split(' ').filter((id) => id && id !== box.id);
		if (rest.length) input.setAttribute('aria-describedby', rest.join(' '));
		else input.removeAttribute('aria-describedby');
		input.removeAttribute('aria-invalid');
		box.remove();
	}
}

// ctx: {main, note (a line shown above the form, e.g. "session ended"),
// done(me) called once signed in}.
export function render({ main, note, done }) {
	const user = field({ label: 'User name', name: 'user', attrs: { autocomplete: 'username', required: true, autocapitalize: 'none', spellcheck: 'false' } });
	const pass = field({ label: 'Password', name: 'password', type: 'password', attrs: { autocomplete: 'current-password', required: true } });
	// The new password's fields are made when asked for: until then
	// "Password" is the only field of that name.
	const renew = h('div', { class: 'stack' });
	let next = null;
	let again = null;
	// The authenticator to set up (QR code and secret), above the code.
	const setup = h('div');
	const code = field({
		label: 'One-time code', name: 'totp', hint: 'The six digits your authenticator app shows now.',
		attrs: { autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6 },
	});
	code.row.hidden = true;
	const msg = h('div', { class: 'messages' });
	const button = h('button', { type: 'submit', class: 'primary' }, 'Sign in');
	const form = h('form', { class: 'card signin stack', novalidate: true, 'aria-labelledby': 'signin-title' },
		h('h1', { id: 'signin-title' }, 'Sign in to popvault'),
		note ? statusBox(note) : null,
		msg, user.row, pass.row, renew, setup, code.row,
		h('div', { class: 'buttons' }, button));

	const askNewPassword = () => {
		next = field({ label: 'New password', name: 'new-password', type: 'password',
			hint: 'At least 12 characters, 5 of them different, without your user name or “popvault”.',
			attrs: { autocomplete: 'new-password', required: true, minlength: 12 } });
		again = field({ label: 'New password again', name: 'new-password-again', type: 'password',
			attrs: { autocomplete: 'new-password', required: true, minlength: 12 } });
		fill(renew, next.row, again.row);
		fill(msg, statusBox('An administrator set this password for you and it works only once: choose your own password now.'));
		next.input.focus();
	};

	// The server keeps the fresh secret aside until a code from it comes
	// with the sign-in; asking again would replace it.
	const startSetup = async (name, password) => {
		let r;
		try {
			r = await api.post('/session/totp', { user: name, password }, { quiet401: true });
		} catch (err) {
			fill(msg, errorBox(err));
			pass.input.focus();
			return;
		}
		fill(setup, h('h2', 'Set up your second factor'), secretView(r, name));
		code.row.hidden = false;
		fill(msg, statusBox('Your role requires a second factor. Add popvault to an authenticator app with the QR code below, then enter the code it shows.'));
		code.input.focus();
	};

	// Another user name: what the server asked of the last one goes.
	user.input.addEventListener('input', () => {
		if (!next && code.row.hidden) return;
		next = null;
		again = null;
		fill(renew);
		fill(setup);
		code.row.hidden = true;
		code.input.value = '';
		fill(msg);
	});

	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		fill(msg);
		clearFieldErrors(form);
		if (!user.input.value || !pass.input.value) {
			fill(msg, alertBox('Enter your user name and password.'));
			(user.input.value ? pass.input : user.input).focus();
			return;
		}
		const body = { user: user.input.value, password: pass.input.value };
		if (next) {
			if (!next.input.value) { fieldError(next, 'Enter a new password of your own.'); return; }
			if (next.input.value !== again.input.value) { fieldError(again, 'The two new passwords differ.'); return; }
			body.new_password = next.input.value;
		}
		if (!code.row.hidden) {
			if (!/^[0-9]{6}$/.test(code.input.value)) {
				fill(msg, alertBox('Enter the six digits of your one-time code.'));
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
			if (err.code === 'password_change_required' && !next) {
				askNewPassword();
			} else if (err.code === 'totp_required') {
				code.row.hidden = false;
				fill(msg, statusBox('Your password is right. Now enter the one-time code from your authenticator app.'));
				code.input.focus();
			} else if (err.code === 'totp_not_enrolled') {
				await startSetup(body.user, body.password);
			} else if (err.code === 'access_not_approved' || err.code === 'access_refused') {
				// The password was right: nothing to retype. The words get the
				// focus (read out first), the form stays as typed.
				const box = errorBox(err);
				box.setAttribute('tabindex', '-1');
				fill(msg, box);
				box.focus();
			} else if (next && err.status === 400 && /^new password: /.test(err.serverMessage || '')) {
				fieldError(next, `Not accepted: ${err.serverMessage.replace(/^new password: /, '').replace(/\.$/, '')}.`);
			} else {
				const shown = err.code === 'unauthorized'
					? { message: code.row.hidden ? 'The user name or password is wrong.' : 'The user name, password or one-time code is wrong.' }
					: err;
				fill(msg, errorBox(shown));
				// With the code asked for, a wrong one is the likely mistake
				// (the password was right a moment ago): the code is retyped.
				const retype = code.row.hidden ? pass.input : code.input;
				retype.select();
				retype.focus();
			}
		} finally {
			button.disabled = false;
		}
	});
	fill(main, form);
	user.input.focus();
}
