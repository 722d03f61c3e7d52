// Approvals: the two-person queue (a policy that shortens retention, a hold
// release, a disposal run). What one user proposes takes effect only when a
// user of another role approves it; each decision carries a reason.

import { api } from '../lib/api.js';
import { h, fill, when } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { ask, errorBox, announce } from '../lib/dialogs.js';
import { go } from '../lib/router.js';

const KIND = { policy: 'Retention policy', 'hold-release': 'Hold release', dispose: 'Disposal run', disposal: 'Disposal run' };

export function describe(a) {
	return a.summary || a.description || a.object || '';
}

// Approve or reject one item, asking for the reason. Resolves true when done.
export async function decide(a, verb, msg) {
	const r = await ask({
		title: `${verb === 'approve' ? 'Approve' : 'Reject'} ${(KIND[a.kind] || a.kind).toLowerCase()} #${a.id}?`,
		body: h('div', h('p', describe(a)), a.reason ? h('p', { class: 'muted' }, `Proposed by ${a.proposed_by}: “${a.reason}”`) : null),
		reason: { label: 'Your reason', required: true },
		confirm: verb === 'approve' ? 'Approve' : 'Reject',
		danger: verb === 'approve' && a.kind !== 'policy',
	});
	if (!r) return false;
	try {
		await api.post(`/approvals/${a.id}/${verb}`, { reason: r.reason });
		announce(`${KIND[a.kind] || a.kind} #${a.id} ${verb === 'approve' ? 'approved' : 'rejected'}.`);
		return true;
	} catch (err) {
		fill(msg, errorBox(err));
		return false;
	}
}

export function queueTable(items, me, msg, label = 'Pending approvals') {
	return table({
		label,
		columns: [
			{ label: '#', cls: 'num', render: (a) => String(a.id) },
			{ label: 'What', render: (a) => KIND[a.kind] || a.kind },
			{ label: 'Details', cls: 'break', render: (a) => describe(a) },
			{ label: 'Proposed', render: (a) => [a.proposed_by, ' · ', when(a.proposed || a.created)] },
			{ label: 'Reason', cls: 'break hide-narrow', render: (a) => a.reason || '' },
			{ label: 'Decision', render: (a) => {
				if (a.state && a.state !== 'pending') return h('span', { class: 'badge' }, a.state);
				if (a.proposed_by === `web:${me.user}` || a.proposed_by === me.user) return h('span', { class: 'muted' }, 'yours: another user decides');
				const ok = h('button', { type: 'button', class: 'small primary' }, `Approve #${a.id}`);
				const no = h('button', { type: 'button', class: 'small danger' }, `Reject #${a.id}`);
				ok.addEventListener('click', async () => { if (await decide(a, 'approve', msg)) go('approvals', { t: Date.now() }); });
				no.addEventListener('click', async () => { if (await decide(a, 'reject', msg)) go('approvals', { t: Date.now() }); });
				return h('div', { class: 'buttons' }, ok, no);
			} },
		],
		rows: items,
		empty: 'Nothing waits for approval.',
	});
}

export async function render({ main, me }) {
	main.appendChild(h('h1', 'Approvals'));
	main.appendChild(h('p', { class: 'muted' }, 'Shortening retention, releasing a hold and disposal take effect only when a second user, of another role, approves.'));
	const msg = h('div');
	main.appendChild(msg);
	try {
		const r = await api.get('/approvals');
		const items = r.approvals || [];
		main.appendChild(queueTable(items.filter((a) => !a.state || a.state === 'pending'), me, msg));
		const done = items.filter((a) => a.state && a.state !== 'pending');
		if (done.length) {
			main.appendChild(h('h2', 'Decided'));
			main.appendChild(queueTable(done, me, msg, 'Decided approvals'));
		}
	} catch (err) {
		main.appendChild(errorBox(err));
	}
}
