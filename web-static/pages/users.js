// Web users (admin): add, change role or password, remove; take a second
// factor away (users set up their own: an admin never sees it); the roles
// that must use one. A password set here works once: the user chooses
// their own at their next sign-in. Whoever sets a password can sign in
// with it, so a legal or compliance account an admin adds, gives that role
// or sets the password of stays shut until a compliance officer the admin
// did not set up approves it (an approval of kind user-access, "Account
// access"): the list says which wait.
// Compliance officers see the same list, read-only: who holds which
// role, and who set them up.

import { api } from '../lib/api.js';
import { h, field, fill, when, actionButton } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { ask, errorBox, okBox, announce } from '../lib/dialogs.js';
import { setUpOwnTotp } from '../lib/totp_setup.js';
import { go } from '../lib/router.js';

const ROLES = [['legal', 'Legal'], ['compliance', 'Compliance'], ['admin', 'Administrator']];
const ROLE_NAME = Object.fromEntries(ROLES);

// A password set here works once (the server says so at the sign-in).
const ONCE_HINT = 'At least 12 characters. It works once: they choose their own at their first sign-in.';

// The notice for the page drawn next, once (after an addition or change).
let notice = null;

// What a user's account waits for, from the server's answer: words for
// the notice after an addition or change ('' for none).
function waitWords(u) {
	const acc = u && u.access;
	if (!acc || acc.state !== 'pending') return '';
	return ` The account opens once a compliance officer you did not set up approves it (approval #${acc.approval}).`;
}

// The role, and the account's access waiting for approval or refused: a
// link to the approvals, where it is decided.
function roleCell(u, admin) {
	const name = ROLE_NAME[u.role] || u.role;
	const acc = u.access;
	if (!acc) return name;
	const refused = acc.state === 'rejected';
	// "Access waits for approval #7" fits a narrow column on one line; it
	// is read out as "Account access waits ...", the name the Approvals
	// page gives the kind (the words shown stay part of the name).
	const state = refused ? `refused (approval #${acc.approval})` : `waits for approval #${acc.approval}`;
	return h('span', name, h('br'),
		h('a', { class: `badge long ${refused ? 'bad' : 'warn'}`, href: '#/approvals', 'aria-label': `Account access ${state}` }, `Access ${state}`),
		refused ? h('span', { class: 'muted small-text' }, h('br'),
			admin ? 'To ask again, set a new password.' : 'Shut until an administrator asks again.') : null);
}

function totpBadge(u) {
	if (u.totp) return h('span', { class: 'badge ok' }, 'enrolled');
	return h('span', { class: 'badge' }, u.totp_pending ? 'setting up' : 'none');
}

function addForm() {
	const name = field({ label: 'New user name', name: 'name', attrs: { required: true, autocomplete: 'off' } });
	const role = field({ label: 'Role', name: 'role', tag: 'select', options: ROLES,
		hint: 'Legal reads mail; compliance approves and reads the audit trail. Either opens once a compliance officer you did not set up approves it.' });
	const pw = field({ label: 'Initial password', name: 'pw', type: 'password', hint: ONCE_HINT,
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
			const u = await api.post('/users', { name: name.input.value.trim(), role: role.input.value, password: pw.input.value });
			notice = `User ${name.input.value.trim()} added.${waitWords(u)}`;
			announce(notice);
			go('users');
		} catch (x) {
			fill(err, errorBox(x, 'The user was not added'));
			err.focus();
		}
	});
	return form;
}

// The users of roles newly required to use a second factor who have none
// enrolled: they must set one up at their next sign-in.
function unenrolled(users, roles, before) {
	const added = roles.filter((r) => !before.includes(r));
	return users.filter((u) => added.includes(u.role) && !u.totp);
}

async function totpSettings(users, me) {
	let cur;
	try { cur = await api.get('/settings/totp'); } catch (err) { return errorBox(err); }
	const boxes = ROLES.map(([r, n]) => field({ label: n, name: `req-${r}`, type: 'checkbox', value: cur.required_roles.includes(r) }));
	const note = h('div', { 'aria-live': 'polite' });
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'totp-req' },
		h('h2', { id: 'totp-req' }, 'Roles that must use a second factor'),
		h('fieldset', h('legend', 'Require a one-time code at sign-in for'), boxes.map((b) => b.row)),
		h('p', { class: 'small-text muted' }, 'Users of these roles without one set up an authenticator app at their next sign-in.'),
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
			const b = h('button', { type: 'button', class: 'primary' }, 'Set up your second factor');
			b.addEventListener('click', async () => { if (await setUpOwnTotp(me.user, false)) go('users'); });
			fill(note, h('div', { class: 'notice error', role: 'alert' },
				`Not saved: you have no second factor, and ${ROLE_NAME[self.role]} would need one. Set up yours first.`),
			b);
			return;
		}
		let r;
		if (bare.length) {
			const a = await ask({ title: 'Require a second factor?', confirm: 'Require it', danger: true,
				body: [h('p', `${bare.length === 1 ? 'This user has' : 'These users have'} no second factor and must set one up with an authenticator app at their next sign-in; their open sessions end now:`),
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

// Whether the password is still the one someone else set, and who set
// it ("web:adam" as "adam"; at the shell as such).
function passwordCell(u) {
	const by = u.password_set_by;
	const who = by && (by.startsWith('web:') ? by.slice(4) : `${by.slice(by.indexOf(':') + 1)} at the shell`);
	if (u.password_once) {
		return h('span', h('span', { class: 'badge warn' }, 'one-time password'), who ? h('span', { class: 'muted' }, ` set by ${who}`) : null);
	}
	// One set at the shell lasts; the user may have changed it since.
	if (by && !by.startsWith('web:')) return h('span', { class: 'muted' }, `set by ${who}, or their own since`);
	return h('span', { class: 'muted' }, who ? `their own (first set by ${who})` : 'their own');
}

// Compliance: the list alone, each user's account changes a link away.
function readOnlyColumns() {
	return [{ label: 'History', render: (u) => h('a', { href: `#/audit?object=${encodeURIComponent(`user=${u.name}`)}`,
		'aria-label': `Account changes of ${u.name} in the audit trail` }, 'Account changes') }];
}

export async function render({ main, me }) {
	main.appendChild(h('h1', 'Users'));
	const said = notice;
	notice = null;
	let r;
	try {
		r = await api.get('/users');
	} catch (err) {
		main.appendChild(errorBox(err));
		return;
	}
	const admin = me.role === 'admin';
	if (!admin) {
		main.appendChild(h('p', 'Who may sign in, with which role, and who set up their password. Only an administrator changes users; every change is in the audit trail. A legal or compliance account an administrator set up opens once a compliance officer that administrator did not set up approves it (Approvals).'));
	}
	if (said) main.appendChild(okBox(said));
	main.appendChild(table({
		label: 'Users',
		columns: [
			{ label: 'User', render: (u) => u.name },
			{ label: 'Role', render: (u) => roleCell(u, admin) },
			{ label: 'Second factor', render: totpBadge },
			{ label: 'Password', render: passwordCell },
			{ label: 'Added', cls: 'hide-narrow', render: (u) => when(u.created) },
			...(admin ? [] : readOnlyColumns()),
			...(!admin ? [] : [{ label: 'Actions', render: (u) => {
				const b = [];
				if (u.totp || u.totp_pending) {
					// The server refuses (409) the last admin's while admins must
					// use one: said in the dialog.
					const x = actionButton('Remove second factor', `of ${u.name}`, 'small secondary');
					x.addEventListener('click', async () => {
						const a = await ask({ title: `Remove ${u.name}’s second factor?`, confirm: 'Remove second factor', danger: true,
							body: u.name === me.user ? 'You then sign in with your password alone, unless your role must use a second factor: then you set up a new one at your next sign-in.'
								: 'For a lost phone. They then sign in with their password alone, unless their role must use a second factor: then they set up a new one at their next sign-in.',
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
						const a = await ask({ title: `Change ${u.name}`, confirm: 'Save',
							body: 'Either change ends their sessions. A new password for a legal or compliance user, or the role Legal or Compliance, shuts the account until a compliance officer you did not set up approves it.', fields: [
							{ label: 'Role', name: 'role', tag: 'select', options: ROLES, value: u.role },
							{ label: 'New password (empty: unchanged)', name: 'password', type: 'password', hint: ONCE_HINT, attrs: { minlength: 12, autocomplete: 'new-password' } },
						], submit: async ({ values }) => {
							const body = {};
							if (values.role !== u.role) body.role = values.role;
							if (values.password) body.password = values.password;
							if (!Object.keys(body).length) return false;
							return api.patch(`/users/${encodeURIComponent(u.name)}`, body);
						} });
						if (!a || !a.result) return;
						notice = `${u.name} changed.${waitWords(a.result)}`;
						announce(notice);
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
			} }]),
		],
		rows: r.users || [],
	}));
	if (admin) main.appendChild(h('div', { class: 'grid' }, addForm(), await totpSettings(r.users || [], me)));
}
