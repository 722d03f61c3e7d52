// Upstream accounts (admin): add, edit, test the connection, remove; the
// password is write-only (never shown, and needed again to change where it
// is sent); harvest now, with the job's progress and result.

import { api } from '../lib/api.js';
import { h, field, fill, when, num, bytes, actionButton } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { ask, show, errorBox, okBox, announce, FieldError } from '../lib/dialogs.js';
import { go, replace, refresh } from '../lib/router.js';

// The same words in the form and in the table.
const TLS = [['implicit', 'TLS'], ['starttls', 'STARTTLS'], ['none', 'None (plain text)']];
const TLS_NAME = Object.fromEntries(TLS);
// What changes where (or how safely) the password is sent: needs it again.
const WHERE = ['host', 'port', 'tls', 'ca_file'];
const AUTH = ['auto', 'user', 'apop', 'plain', 'login', 'cram-md5', 'scram-sha-256', 'xoauth2', 'oauthbearer'].map((a) => [a, a]);

function testResult(r) {
	return h('div', { class: 'stack' },
		h('p', { class: `notice ${r.ok ? 'ok' : 'error'}` }, r.ok
			? `The connection works: ${num(r.messages)} messages (${bytes(r.octets)}) wait upstream.`
			: `The test stopped at “${r.stage}”: ${r.error}`),
		h('dl', { class: 'facts' },
			h('dt', 'Stage reached'), h('dd', r.stage),
			h('dt', 'TLS'), h('dd', r.tls ? `${r.tls.version}, ${r.tls.cipher}, certificate ${r.tls.verified ? 'verified' : 'NOT verified'}` : 'none'),
			h('dt', 'Signed in with'), h('dd', r.auth || '—'),
			h('dt', 'Server'), h('dd', r.implementation || '—'),
			h('dt', 'Capabilities'), h('dd', (r.capabilities || []).join(', ') || '—'),
			h('dt', 'Took'), h('dd', `${num(r.elapsed_ms)} ms`)));
}

function messages(n) {
	return `${num(n)} ${n === 1 ? 'message' : 'messages'}`;
}

function harvestResult(job) {
	const res = job.result;
	const err = job.error || '';
	return h('p', { class: `notice ${job.state === 'done' ? 'ok' : 'error'}` },
		job.state === 'done' ? 'The last harvest finished: ' : `The last harvest failed${err ? `: ${err}` : ''}. `,
		res ? `${messages(res.fetched)} fetched, ${num(res.deleted)} deleted upstream, ${messages(res.failed)} failed.` : '', ' ', when(job.finished));
}

// finished(): called when a harvest started or seen running here ends
// (the accounts' "Last harvest" is then redrawn).
async function harvestCard(alive, finished) {
	const out = h('div', { 'aria-live': 'polite' });
	const btn = h('button', { type: 'button', class: 'primary' }, 'Harvest now');
	const card = h('section', { class: 'card stack', 'aria-labelledby': 'harvest-title' },
		h('h2', { id: 'harvest-title' }, 'Harvest now'),
		h('p', { class: 'muted' }, 'Fetches new mail from every account now, archives it, then deletes it upstream.'),
		h('div', { class: 'buttons' }, btn), out);
	let watching = false;
	function draw(job) {
		if (!job || job.state === 'idle') { fill(out); return; }
		fill(out,
			job.state === 'running' ? h('div', h('progress', { 'aria-label': 'Harvest running' }), h('p', { class: 'muted' }, 'Harvesting… started ', when(job.started)))
				: harvestResult(job));
		btn.disabled = job.state === 'running';
		if (job.state === 'running') watching = true;
		else if (watching) { watching = false; finished(); }
		if (job.state === 'running' && alive()) {
			setTimeout(async () => {
				if (!alive()) return;
				try { draw(await api.get('/harvest')); } catch (err) { fill(out, errorBox(err)); }
			}, 800);
		}
	}
	btn.addEventListener('click', async () => {
		try {
			watching = true;
			draw(await api.post('/harvest', {}));
			announce('Harvest started.');
		} catch (err) { watching = false; fill(out, errorBox(err)); }
	});
	try { draw(await api.get('/harvest')); } catch (err) { fill(out, errorBox(err)); }
	return card;
}

function addForm() {
	const f = {
		name: field({ label: 'Account name', name: 'name', attrs: { required: true } }),
		host: field({ label: 'Server', name: 'host', attrs: { required: true, placeholder: 'pop.example.org' } }),
		port: field({ label: 'Port', name: 'port', type: 'number', hint: 'Empty: 995 with TLS, else 110.', attrs: { min: 1, max: 65535 } }),
		tls: field({ label: 'Security', name: 'tls', tag: 'select', options: TLS }),
		user: field({ label: 'Login', name: 'user', attrs: { required: true, autocomplete: 'off' } }),
		password: field({ label: 'Account password', name: 'password', type: 'password', hint: 'Stored sealed; never shown again.', attrs: { required: true, autocomplete: 'new-password' } }),
		auth: field({ label: 'Sign-in method', name: 'auth', tag: 'select', options: AUTH }),
		ca: field({ label: 'CA file on the appliance', name: 'ca_file', hint: 'Empty: the system’s certificate store.' }),
		interval: field({ label: 'Harvest every (minutes)', name: 'interval', type: 'number', hint: 'Empty: the appliance’s setting.', attrs: { min: 1, max: 1440 } }),
		keep: field({ label: 'Keep mail upstream (do not delete after archiving)', name: 'keep', type: 'checkbox' }),
	};
	const msg = h('div');
	const form = h('form', { class: 'card stack', 'aria-labelledby': 'add-account' },
		h('h2', { id: 'add-account' }, 'Add an account'),
		h('div', { class: 'grid' }, f.name.row, f.host.row, f.port.row, f.tls.row, f.user.row, f.password.row, f.auth.row, f.ca.row, f.interval.row),
		f.keep.row, h('div', { class: 'buttons' }, h('button', { type: 'submit', class: 'primary' }, 'Add account')), msg);
	form.addEventListener('submit', async (e) => {
		e.preventDefault();
		if (!form.reportValidity()) return;
		const body = { name: f.name.input.value.trim(), host: f.host.input.value.trim(), user: f.user.input.value,
			password: f.password.input.value, tls: f.tls.input.value, auth: f.auth.input.value, keep_upstream: f.keep.input.checked };
		if (f.port.input.value) body.port = Number(f.port.input.value);
		if (f.ca.input.value.trim()) body.ca_file = f.ca.input.value.trim();
		if (f.interval.input.value) body.harvest_interval_s = Number(f.interval.input.value) * 60;
		try {
			await api.post('/accounts', body);
			f.password.input.value = '';
			announce(`Account ${body.name} added.`);
			// Drawn anew with the notice, which then leaves the address.
			replace('accounts', { added: body.name });
			refresh();
		} catch (err) { fill(msg, errorBox(err)); }
	});
	return form;
}

// What the edit dialog's values change, as the PATCH body.
function changes(a, v, every) {
	const body = {};
	if (v.host.trim() !== a.host) body.host = v.host.trim();
	if (v.port !== '' && Number(v.port) !== a.port) body.port = Number(v.port);
	if (v.tls !== a.tls) body.tls = v.tls;
	if (v.user !== a.user) body.user = v.user;
	if (v.auth !== a.auth) body.auth = v.auth;
	if ((v.ca_file.trim() || null) !== (a.ca_file || null)) body.ca_file = v.ca_file.trim() || null;
	if (v.keep !== a.keep_upstream) body.keep_upstream = v.keep;
	if (String(v.interval) !== every) body.harvest_interval_s = v.interval ? Number(v.interval) * 60 : null;
	if (v.password) body.password = v.password;
	return body;
}

// The edit dialog; it stays open until the server took the change (its
// refusal is shown in the dialog). Resolves true when something changed.
async function edit(a) {
	const every = a.harvest_interval_s ? String(Math.max(1, Math.round(a.harvest_interval_s / 60))) : '';
	const r = await ask({
		title: `Edit account ${a.name}`,
		body: 'Changing the server, port, security or CA file needs the account password again.',
		fields: [
			{ label: 'Server', name: 'host', value: a.host, attrs: { required: true } },
			{ label: 'Port', name: 'port', type: 'number', value: a.port, attrs: { min: 1, max: 65535 } },
			{ label: 'Security', name: 'tls', tag: 'select', options: TLS, value: a.tls },
			{ label: 'Login', name: 'user', value: a.user },
			{ label: 'Sign-in method', name: 'auth', tag: 'select', options: AUTH, value: a.auth },
			{ label: 'CA file on the appliance', name: 'ca_file', value: a.ca_file || '' },
			{ label: 'Harvest every (minutes; empty: the appliance’s setting)', name: 'interval', type: 'number', value: every, attrs: { min: 1, max: 1440 } },
			{ label: 'Keep mail upstream', name: 'keep', type: 'checkbox', value: a.keep_upstream },
			{ label: 'Account password (leave empty to keep it)', name: 'password', type: 'password', attrs: { autocomplete: 'new-password' } },
		],
		confirm: 'Save',
		submit: async ({ values }) => {
			const body = changes(a, values, every);
			if (!Object.keys(body).length) return false;
			if (WHERE.some((k) => k in body) && !body.password) {
				throw new FieldError('password', 'Enter the account password: changing the server, port, security or CA file needs it again.');
			}
			await api.patch(`/accounts/${encodeURIComponent(a.name)}`, body);
			return true;
		},
	});
	return Boolean(r && r.result);
}

function accountsTable(accounts, msg) {
	return table({
		label: 'Upstream accounts',
		columns: [
			{ label: 'Account', render: (a) => a.name },
			{ label: 'Server', cls: 'break', render: (a) => `${a.host}:${a.port}` },
			{ label: 'Security', cls: 'hide-narrow', render: (a) => TLS_NAME[a.tls] || a.tls },
			{ label: 'Login', cls: 'break hide-narrow', render: (a) => a.user },
			{ label: 'Last harvest', render: (a) => (a.last_harvest ? [when(a.last_harvest.time), ' ',
				h('span', { class: `badge long ${a.last_harvest.ok ? 'ok' : 'bad'}` }, a.last_harvest.ok ? `${num(a.last_harvest.fetched)} fetched` : a.last_harvest.outcome)] : 'never') },
			{ label: 'Left upstream', cls: 'num hide-narrow', render: (a) => num(a.residue_upstream) },
			{ label: 'Actions', render: (a) => {
				const t = actionButton('Test', a.name);
				const e = actionButton('Edit', a.name, 'small secondary');
				const d = actionButton('Remove', a.name, 'small danger');
				// Busy while the test runs: aria-disabled, not disabled, so the
				// button keeps the focus (it is where the user is when the
				// result's dialog closes).
				let testing = false;
				t.addEventListener('click', async () => {
					if (testing) return;
					testing = true;
					t.setAttribute('aria-disabled', 'true');
					fill(msg, h('p', { class: 'muted' }, `Testing ${a.name}…`));
					announce(`Testing ${a.name}…`);
					try {
						const res = await api.post(`/accounts/${encodeURIComponent(a.name)}/test`);
						fill(msg);
						await show(`Connection test of ${a.name}`, testResult(res));
					} catch (err) {
						fill(msg, errorBox(err));
					} finally {
						testing = false;
						t.removeAttribute('aria-disabled');
						if (t.isConnected && (!document.activeElement || document.activeElement === document.body)) t.focus();
					}
				});
				e.addEventListener('click', async () => {
					if (await edit(a)) { announce(`Account ${a.name} changed.`); go('accounts'); }
				});
				d.addEventListener('click', async () => {
					const ok = await ask({ title: `Remove account ${a.name}?`, danger: true, confirm: 'Remove',
						body: 'Nothing more is harvested from it. Its archived mail stays in the archive.',
						submit: () => api.del(`/accounts/${encodeURIComponent(a.name)}`) });
					if (!ok) return;
					announce(`Account ${a.name} removed.`);
					go('accounts');
				});
				return h('div', { class: 'buttons' }, t, e, d);
			} },
		],
		rows: accounts,
		empty: 'No accounts yet: add one below.',
	});
}

export async function render({ main, alive, params }) {
	main.appendChild(h('h1', 'Accounts'));
	const msg = h('div');
	main.appendChild(msg);
	// The notice is shown once: Back or a reload does not bring it back.
	if (params.get('added')) {
		const said = `Account ${params.get('added')} added. Test its connection below.`;
		fill(msg, okBox(said));
		announce(said);
		replace('accounts');
	}
	const list = h('div');
	main.appendChild(list);
	async function drawAccounts() {
		try {
			const r = await api.get('/accounts');
			if (alive()) fill(list, accountsTable(r.accounts || [], msg));
			return true;
		} catch (err) {
			fill(list, errorBox(err));
			return false;
		}
	}
	if (!await drawAccounts()) return;
	main.appendChild(h('div', { class: 'grid' }, await harvestCard(alive, drawAccounts)));
	main.appendChild(addForm());
}
