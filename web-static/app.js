// The shell: who is signed in, the navigation their role may use, and one
// page module at a time in <main>. Pages live in pages/*.js and export
// render(ctx); ctx = {main, me, parts, params, title(text)}.

import { api, setCsrf, whenExpired, whenRefused } from './lib/api.js';
import { h, fill } from './lib/dom.js';
import { current, match } from './lib/router.js';
import { errorBox, ask, FieldError, closeAll, announce } from './lib/dialogs.js';
import * as signin from './pages/signin.js';
import { setUpOwnTotp } from './lib/totp_setup.js';

const ALL = ['admin', 'legal', 'compliance'];

// Every page, the roles that see it (the server checks again: deny by
// default lives in its route table), and whether it is in the navigation.
const ROUTES = [
	{ path: '', title: 'Dashboard', roles: ALL, nav: true, load: () => import('./pages/dashboard.js') },
	{ path: 'search', title: 'Search', roles: ['legal'], nav: true, load: () => import('./pages/search.js') },
	{ path: 'message', title: 'Message', roles: ['legal'], load: () => import('./pages/message.js') },
	{ path: 'matters', title: 'Matters', roles: ['legal'], nav: true, load: () => import('./pages/matters.js') },
	{ path: 'audit', title: 'Audit trail', roles: ['compliance'], nav: true, load: () => import('./pages/audit.js') },
	{ path: 'integrity', title: 'Integrity', roles: ['compliance'], nav: true, load: () => import('./pages/integrity.js') },
	{ path: 'policy', title: 'Retention policy', roles: ['admin', 'compliance'], nav: true, load: () => import('./pages/policy.js') },
	{ path: 'approvals', title: 'Approvals', roles: ALL, nav: true, load: () => import('./pages/approvals.js') },
	{ path: 'accounts', title: 'Accounts', roles: ['admin'], nav: true, load: () => import('./pages/accounts.js') },
	{ path: 'users', title: 'Users', roles: ['admin', 'compliance'], nav: true, load: () => import('./pages/users.js') },
];

const ROLE_NAMES = { admin: 'Administrator', legal: 'Legal', compliance: 'Compliance' };

const main = document.getElementById('main');
let me = null;
let generation = 0;
// A line for the next page drawn (another tab signed in as someone else).
let switchedNote = null;

function setTitle(text) {
	document.title = text ? `${text} — popvault` : 'popvault';
}

function drawNav(activePath) {
	const nav = document.getElementById('nav');
	const who = document.getElementById('who');
	if (!me) {
		fill(nav);
		fill(who);
		return;
	}
	const items = ROUTES.filter((r) => r.nav && r.roles.includes(me.role)).map((r) => {
		const a = h('a', { href: `#/${r.path}` }, r.title);
		if (r.path === activePath) a.setAttribute('aria-current', 'page');
		return h('li', a);
	});
	fill(nav, h('ul', items));
	showCurrent(nav);
	const pw = h('button', { type: 'button', class: 'secondary small' }, 'Change password');
	pw.addEventListener('click', changePassword);
	const tf = h('button', { type: 'button', class: 'secondary small', id: 'own-totp' },
		me.totp ? 'Replace second factor' : 'Set up second factor');
	tf.addEventListener('click', ownTotp);
	const out = h('button', { type: 'button', class: 'secondary small' }, 'Sign out');
	out.addEventListener('click', signOut);
	fill(who, h('span', { class: 'user' }, me.user, h('span', { class: 'role' }, ROLE_NAMES[me.role] || me.role)),
		h('span', { class: 'buttons' }, pw, tf), out);
}

// On a phone the navigation scrolls sideways: the current page's link is
// brought into view (the list only, never the page).
function showCurrent(nav) {
	const ul = nav.querySelector('ul');
	const a = nav.querySelector('[aria-current="page"]');
	if (!ul || !a || ul.scrollWidth <= ul.clientWidth) return;
	const box = ul.getBoundingClientRect();
	const it = a.getBoundingClientRect();
	ul.scrollLeft += it.left - box.left - (box.width - it.width) / 2;
}

// An address that cannot be read (bad %-encoding, typed or cut by hand).
function notFound() {
	drawNav(null);
	setTitle('Not found');
	fill(main, h('h1', 'Not found'),
		errorBox({ message: 'This address is not valid: nothing is found under it.' }),
		h('p', h('a', { href: '#/' }, 'Go to the dashboard')));
}

// One's own password: the current one first; every session of the user
// ends with the change, this one too.
async function changePassword() {
	const answer = await ask({
		title: 'Change your password',
		body: 'Every session of yours ends with the change, this one too: you then sign in with the new password.',
		confirm: 'Change password',
		fields: [
			{ label: 'Current password', name: 'current', type: 'password', attrs: { required: true, autocomplete: 'current-password' } },
			{ label: 'New password', name: 'next', type: 'password', hint: 'At least 12 characters.', attrs: { required: true, minlength: 12, autocomplete: 'new-password' } },
			{ label: 'New password again', name: 'again', type: 'password', attrs: { required: true, minlength: 12, autocomplete: 'new-password' } },
		],
		submit: async ({ values }) => {
			if (values.next !== values.again) throw new FieldError('again', 'The two new passwords differ.');
			try {
				await api.put('/me/password', { current: values.current, new: values.next });
			} catch (x) {
				if (x.status === 403) throw new FieldError('current', 'The current password is wrong.');
				throw x;
			}
		},
	});
	if (!answer) return;
	setCsrf(null);
	showSignIn('Your password was changed: sign in with the new one.');
}

// One's own second factor; the page is drawn anew (the Users page shows
// it too) and the focus goes back to the button, now "Replace".
async function ownTotp() {
	if (!await setUpOwnTotp(me.user, me.totp)) return;
	me.totp = true;
	await route(false);
	const b = document.getElementById('own-totp');
	if (b) b.focus();
}

async function signOut() {
	try {
		await api.del('/session', { quiet401: true });
	} catch {
		// Signed out already, or the server is gone: the page forgets the session either way.
	}
	me = null;
	setCsrf(null);
	showSignIn('You have signed out.');
}

function showSignIn(note) {
	generation += 1;
	me = null;
	drawNav();
	setTitle('Sign in');
	signin.render({ main, note, done: (who) => { me = who; route(true); } });
}

async function route(focus) {
	if (!me) return;
	const gen = ++generation;
	const { parts, params, bad } = current();
	if (bad) { notFound(); return; }
	let r = match(ROUTES, me.role, parts);
	if (!r) {
		r = ROUTES[0];
		if (parts.length) history.replaceState(null, '', '#/');
	}
	drawNav(r.path);
	setTitle(r.title);
	fill(main, h('p', { class: 'muted' }, 'Loading…'));
	try {
		// Each page starts by asking who is signed in: an ended session (idle
		// or absolute timeout, sign-out elsewhere, a changed role) is noticed
		// at once, not in the middle of a form.
		const [who, mod] = await Promise.all([api.get('/me'), r.load()]);
		if (gen !== generation) return;
		if (switched(who)) { route(focus); return; }
		// A second factor set up elsewhere (the Users page): the header's
		// button says so.
		const redraw = me.totp !== who.totp;
		me = who;
		if (redraw) drawNav(r.path);
		setCsrf(who.csrf);
		fill(main);
		await mod.render({ main, me, parts, params, title: setTitle, alive: () => gen === generation });
		if (switchedNote && gen === generation) {
			const n = h('p', { class: 'notice info', role: 'status' }, switchedNote);
			const h1 = main.querySelector('h1');
			if (h1) h1.after(n); else main.prepend(n);
			switchedNote = null;
		}
	} catch (err) {
		if (gen !== generation) return;
		fill(main, h('h1', r.title), errorBox(err));
	}
	const active = document.activeElement;
	if (focus && gen === generation && (!main.contains(active) || active === main)) {
		const h1 = main.querySelector('h1');
		if (h1) { h1.setAttribute('tabindex', '-1'); h1.focus(); }
	}
}

// Whether the session is now someone else's, or the role changed (a
// sign-in in another tab of this browser): then me is the new one, the
// dialogs of the old one are closed, and the next page says so.
function switched(who) {
	if (!me || (who.user === me.user && who.role === me.role)) return false;
	if (who.user !== me.user) {
		switchedNote = `You are now signed in as ${who.user} (in another tab).`;
		announce(switchedNote);
	}
	closeAll();
	me = who;
	setCsrf(who.csrf);
	return true;
}

// The session ended under the page: any dialog still open is closed (its
// question left unanswered) before the sign-in is drawn, so the form can
// be used and has the focus; the note says what was not done.
whenExpired((err, req) => {
	if (!me) return;
	const open = closeAll();
	let note = 'Your session has ended. Please sign in again.';
	if (open.length) note += ` “${open[0]}” was not done: what you entered there was not sent. Do it again once signed in.`;
	else if (req && req.method !== 'GET') note += ' Your last action was not done: do it again once signed in.';
	showSignIn(note);
});

// Refused as forbidden or without the CSRF token: who is signed in now?
// Another tab may have signed in as someone else.
whenRefused(async () => {
	if (!me) return;
	let who;
	try {
		who = await api.get('/me');
	} catch {
		return;
	}
	if (!me) return;
	if (switched(who)) route(true);
	else setCsrf(who.csrf);
});

window.addEventListener('hashchange', () => route(true));

document.querySelector('.skip').addEventListener('click', (e) => {
	e.preventDefault();
	main.focus();
});

(async function boot() {
	try {
		const who = await api.get('/me', null, { quiet401: true });
		setCsrf(who.csrf);
		me = who;
		route(false);
	} catch (err) {
		if (err.status === 401) showSignIn(null);
		else fill(main, h('h1', 'popvault'), errorBox(err));
	}
}());
