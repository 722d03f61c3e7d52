// One's own second factor, signed in (the header's button, and the Users
// page when an admin must have one first): the password, then the QR code
// of a fresh secret and a code from it. The secret is drawn here from the
// server's answer and kept nowhere; the one in force stays until the code
// confirms the new one (docs/api.md, POST/PUT /api/v1/me/totp).

import { api } from './api.js';
import { h } from './dom.js';
import { ask, FieldError, announce } from './dialogs.js';
import { qrSvg } from './qr.js';

// What an authenticator app needs, for the sign-in page too: the QR code,
// the secret to type by hand, and what to do with them.
export function secretView(r, user) {
	return h('div', { class: 'stack totp-secret' },
		h('p', 'Scan this QR code with an authenticator app on your phone (it is shown once and kept nowhere in this browser):'),
		qrSvg(r.uri, `QR code for ${user}'s authenticator`),
		h('p', 'Or type this secret into the app: ', h('code', { class: 'break' }, r.secret)));
}

// hasOne: whether the user has a second factor now (it is then replaced).
// Resolves true once the new one is in force, false when cancelled.
export async function setUpOwnTotp(user, hasOne) {
	const first = await ask({
		title: hasOne ? 'Replace your second factor' : 'Set up your second factor',
		body: hasOne ? 'Your authenticator keeps working until the new one is confirmed with a code from it.'
			: 'From then on you sign in with your password and the six-digit code of an authenticator app.',
		confirm: 'Continue',
		fields: [{ label: 'Your password', name: 'password', type: 'password', attrs: { required: true, autocomplete: 'current-password' } }],
		submit: async ({ values }) => {
			try {
				return await api.post('/me/totp', { password: values.password });
			} catch (x) {
				if (x.status === 403) throw new FieldError('password', 'The password is wrong.');
				throw x;
			}
		},
	});
	if (!first) return false;
	const done = await ask({
		title: 'Add popvault to your authenticator app',
		body: secretView(first.result, user),
		confirm: hasOne ? 'Replace second factor' : 'Set up second factor',
		fields: [{ label: 'One-time code', name: 'code', hint: 'The six digits the app shows now, to check it is set up right.',
			attrs: { required: true, autocomplete: 'one-time-code', inputmode: 'numeric', pattern: '[0-9]{6}', maxlength: 6 } }],
		submit: async ({ values }) => {
			try {
				await api.put('/me/totp', { code: values.code.trim() });
			} catch (x) {
				if (x.status === 400) throw new FieldError('code', 'The code is wrong or already used: enter the six digits the app shows now.');
				throw x;
			}
		},
	});
	if (!done) return false;
	announce(hasOne ? 'Your second factor was replaced: sign in with the new one from now on.'
		: 'Your second factor is set up: sign in with its code from now on.');
	return true;
}
