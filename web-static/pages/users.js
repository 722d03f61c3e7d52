// Web users (admin): add, change role or password, remove; enrol or remove
// a TOTP second factor (the QR code drawn here, from the otpauth URI); the
// roles that must use one.

import { api } from '../lib/api.js';
import { h, field, fill, when, actionButton } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { ask, show, errorBox, okBox, announce } from '../lib/dialogs.js';
import { qrSvg } from '../lib/qr.js';
import { go } from '../lib/router.js';

const ROLES = [['legal', 'Legal'], ['compliance', 'Compliance'], ['admin', 'Administrator']];
const ROLE_NAME = Object.fromEntries(ROLES);

async function enrol(u, msg) {
	const ok = await ask({ title: `Enrol a second factor for ${u.name}?`, confirm: 'Enrol',
		body: u.totp ? 'A new secret replaces the one they have: their authenticator must be set up again.'
			: 'They will need the code from their authenticator app at every sign-in.',
		submit: () => api.post(`/users/${encodeURIComponent(u.name)}/totp`) });
	if (!ok) return;
	try {
		const r = ok.result;
		await show(`Authenticator for ${u.name}`, h('div', { class: 'stack' },
			h('p', 'Scan this code with the authenticator app (shown once; it is not stored in this browser):'),
			qrSvg(r.uri, `QR code for ${u.name}'s authenticator`),
			h('p', 'Or type the secret: ', h('code', { class: 'break' }, r.secret))));
		announce(`Second factor enrolled for ${u.name}.`);
		go('users');
	} catch (err) { fill(msg, errorBox(err)); }
}

function addForm() {
	const name = field({ label: 'New user name', name: 'name', attrs: { required: true, autocomplete: 'off' } });
	const role = field({ label: 'Role', name: 'role', tag: 'select', options: ROLES });
	const pw = field({ label: 'Initial password', name: 'pw', type: 'password', hint: 'At least 12 characters.',
		attrs: { required: true, minlength: 12, autocomplete: 'new-password' } });
	// A refusal is shown in the form, next to what was typed, and focused.
	const err = h('div', { tabindex: '-1', class: 'form-error' });
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'add-user' },
		h('h2', { id: 'add-user' }, 'Add a user'), h('div', { class: 'row' }, name.row, role.row, pw.row,
			h('button', { type: 'submit', class: 'primary' }, 'Add user')), err);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		fill(err);
		if (!form.reportValidity()) return;
		try {
			await api.post('/users', { name: name.input.value.trim(), role: role.input.value, password: pw.input.value });
			announce(`User ${name.input.value.trim()} added.`);
			go('users');
		} catch (x) {
			fill(err, errorBox(x, 'The user was not added'));
			err.focus();
		}
	});
	return form;
}

// The users of roles newly required to use a second factor who have none
// enrolled: they could not sign in once it is saved.
function unenrolled(users, roles, before) {
	const added = roles.filter((r) => !before.includes(r));
	return users.filter((u) => added.includes(u.role) && !u.totp);
}

async function totpSettings(msg, users, me) {
	let cur;
	try { cur = await api.get('/settings/totp'); } catch (err) { return errorBox(err); }
	const boxes = ROLES.map(([r, n]) => field({ label: n, name: `req-${r}`, type: 'checkbox', value: cur.required_roles.includes(r) }));
	const note = h('div', { 'aria-live': 'polite' });
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'totp-req' },
		h('h2', { id: 'totp-req' }, 'Roles that must use a second factor'),
		h('fieldset', h('legend', 'Require a one-time code at sign-in for'), boxes.map((b) => b.row)),
		h('p', { class: 'small-text muted' }, 'Enrol the users of a role first: without a second factor they cannot sign in.'),
		h('div', { class: 'buttons' }, h('button', { type: 'submit' }, 'Save')), note);
	const save = (roles) => api.put('/settings/totp', { required_roles: roles });
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		fill(note);
		const roles = ROLES.map(([r]) => r).filter((_, i) => boxes[i].input.checked);
		const bare = unenrolled(users, roles, cur.required_roles);
		const self = bare.find((u) => u.name === me.user);
		if (self) {
			// Saving would lock the admin out at their next sign-in.
			const b = h('button', { type: 'button', class: 'primary' }, 'Enrol your second factor');
			b.addEventListener('click', () => enrol(self, msg));
			fill(note, h('div', { class: 'notice error', role: 'alert' },
				`Not saved: you have no second factor, and ${ROLE_NAME[self.role]} would need one; you could not sign in again. Enrol yours first.`),
			b);
			return;
		}
		let r;
		if (bare.length) {
			const a = await ask({ title: 'Require a second factor?', confirm: 'Require it', danger: true,
				body: [h('p', `${bare.length === 1 ? 'This user has' : 'These users have'} no second factor enrolled and could not sign in until an administrator enrols one:`),
					h('ul', bare.map((u) => h('li', `${u.name} (${ROLE_NAME[u.role] || u.role})`)))],
				submit: () => save(roles) });
			if (!a) return;
			r = a.result;
		} else {
			try { r = await save(roles); } catch (err) { fill(note, errorBox(err)); return; }
		}
		cur = r;
		const words = `Second factor required for: ${r.required_roles.map((x) => ROLE_NAME[x] || x).join(', ') || 'no role'}.`;
		fill(note, okBox(words));
		announce(words);
	});
	return form;
}

export async function render({ main, me }) {
	main.appendChild(h('h1', 'Users'));
	const msg = h('div');
	main.appendChild(msg);
	let r;
	try {
		r = await api.get('/users');
	} catch (err) {
		main.appendChild(errorBox(err));
		return;
	}
	main.appendChild(table({
		label: 'Users',
		columns: [
			{ label: 'User', render: (u) => u.name },
			{ label: 'Role', render: (u) => ROLE_NAME[u.role] || u.role },
			{ label: 'Second factor', render: (u) => h('span', { class: `badge ${u.totp ? 'ok' : ''}` }, u.totp ? 'enrolled' : 'none') },
			{ label: 'Added', cls: 'hide-narrow', render: (u) => when(u.created) },
			{ label: 'Actions', render: (u) => {
				const b = [];
				const t = actionButton(`${u.totp ? 'Re-enrol' : 'Enrol'} TOTP`, `for ${u.name}`);
				t.addEventListener('click', () => enrol(u, msg));
				b.push(t);
				if (u.totp) {
					// The server refuses (409) the last admin's while admins must
					// use one: said in the dialog.
					const x = actionButton('Remove second factor', `of ${u.name}`, 'small secondary');
					x.addEventListener('click', async () => {
						const a = await ask({ title: `Remove ${u.name}’s second factor?`, confirm: 'Remove second factor', danger: true,
							body: u.name === me.user ? 'You then sign in with your password alone, unless your role must use a second factor.'
								: 'They then sign in with their password alone; if their role must use a second factor, they cannot sign in until one is enrolled again.',
							submit: () => api.del(`/users/${encodeURIComponent(u.name)}/totp`) });
						if (!a) return;
						announce(`Second factor of ${u.name} removed.`);
						go('users');
					});
					b.push(x);
				}
				if (u.name !== me.user) {
					const c = actionButton('Change', u.name, 'small secondary');
					c.addEventListener('click', async () => {
						const a = await ask({ title: `Change ${u.name}`, confirm: 'Save', body: 'Either change ends their sessions.', fields: [
							{ label: 'Role', name: 'role', tag: 'select', options: ROLES, value: u.role },
							{ label: 'New password (empty: unchanged)', name: 'password', type: 'password', attrs: { minlength: 12, autocomplete: 'new-password' } },
						], submit: async ({ values }) => {
							const body = {};
							if (values.role !== u.role) body.role = values.role;
							if (values.password) body.password = values.password;
							if (!Object.keys(body).length) return false;
							await api.patch(`/users/${encodeURIComponent(u.name)}`, body);
							return true;
						} });
						if (!a || !a.result) return;
						announce(`${u.name} changed.`);
						go('users');
					});
					const d = actionButton('Remove', u.name, 'small danger');
					d.addEventListener('click', async () => {
						if (!await ask({ title: `Remove ${u.name}?`, danger: true, confirm: 'Remove', body: 'Their sessions end at once.',
							submit: () => api.del(`/users/${encodeURIComponent(u.name)}`) })) return;
						announce(`${u.name} removed.`);
						go('users');
					});
					b.push(c, d);
				}
				return h('div', { class: 'buttons' }, b);
			} },
		],
		rows: r.users || [],
	}));
	main.appendChild(h('div', { class: 'grid' }, addForm(), await totpSettings(msg, r.users || [], me)));
}
