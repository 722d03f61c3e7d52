// Approvals: the two-person queue (a policy that shortens retention, a hold
// release, a disposal run, a legal or compliance account an administrator
// set up: "Account access"). What one user proposes takes effect only when
// another user, of another role allowed to approve it, approves; each
// decision carries a reason. A proposer may withdraw their own proposal.

import { api } from '../lib/api.js';
import { h, fill, when, num } from '../lib/dom.js';
import { table, pager } from '../lib/table.js';
import { ask, errorBox, okBox, announce } from '../lib/dialogs.js';
import { go, refresh } from '../lib/router.js';

const KIND = { policy: 'Retention policy', 'hold-release': 'Hold release', dispose: 'Disposal run', 'user-access': 'Account access' };
const ROLE = { admin: 'an administrator', legal: 'legal', compliance: 'compliance' };
const LIMIT = 50;

// What an approval did, in words, from the server's effect (each kind
// its own; none for a kind this page does not know).
function effectWords(kind, e) {
	if (!e) return '';
	if (kind === 'policy' && e.policy_version !== undefined) return `Policy version ${e.policy_version} is in force.`;
	if (kind === 'hold-release' && e.released) return `The hold “${e.released}” is released.`;
	if (kind === 'user-access' && e.may_sign_in) return `${e.may_sign_in} may sign in now.`;
	if (kind === 'dispose' && typeof e.disposed === 'number') return `${num(e.disposed)} message${e.disposed === 1 ? '' : 's'} disposed of.`;
	return '';
}

// The account a user-access approval opens (GET /approvals/{id} names
// it; the list does not): a.proposal filled in, null when it cannot be had.
async function withProposal(a) {
	if (a.kind !== 'user-access' || a.proposal) return a;
	try {
		a.proposal = (await api.get(`/approvals/${a.id}`)).proposal;
	} catch {
		a.proposal = null;
	}
	return a;
}

function accountOf(a) {
	return a.kind === 'user-access' && a.proposal && typeof a.proposal.user === 'string' ? a.proposal.user : null;
}

// What the account may do once approved, from the role the proposal names
// (the one it has now); a role this page does not know: signing in alone.
function mayThen(user, role) {
	if (role === 'legal') return `${user} may then sign in and read mail`;
	if (role === 'compliance') return `${user} may then sign in, approve what waits for a second person and read the audit trail`;
	return `${user} may then sign in`;
}

// The Details cell: the summary; for account access, the account first
// (and, for a compliance officer, its changes in the audit trail).
function details(a, me) {
	const user = accountOf(a);
	if (!user) return a.summary;
	return h('span', 'Account: ', h('strong', user),
		me.role === 'compliance' ? [' · ', h('a', { class: 'nowrap', href: `#/audit?object=${encodeURIComponent(`user=${user}`)}`,
			'aria-label': `Account changes of ${user} in the audit trail` }, 'Account changes')] : null,
		h('br'), a.summary);
}

function mine(a, me) {
	return a.proposer === `web:${me.user}`;
}

function mayApprove(a, me) {
	return !mine(a, me) && a.proposer_role !== me.role && (a.approvers || []).includes(me.role);
}

// Approve or reject (withdraw, for one's own) an item, asking for the
// reason; a refusal is shown in the dialog. Resolves true when done.
export async function decide(a, verb, msg) {
	const withdraw = verb === 'reject' && msg && msg.dataset.me === a.proposer;
	const what = (KIND[a.kind] || a.kind).toLowerCase();
	const user = accountOf(await withProposal(a));
	const r = await ask({
		title: `${verb === 'approve' ? 'Approve' : withdraw ? 'Withdraw' : 'Reject'} ${what} #${a.id}?`,
		body: h('div', user ? h('p', 'Account: ', h('strong', user)) : null, h('p', a.summary),
			a.reason ? h('p', { class: 'muted' }, `${a.proposer} (${a.proposer_role}) gave as reason: “${a.reason}”`) : null,
			verb === 'approve' ? h('p', { class: 'notice warn' }, user
				? `It takes effect as soon as you approve it: ${mayThen(user, a.proposal.role)}. Approve it only if you know ${user} needs it.`
				: 'It takes effect as soon as you approve it.') : null),
		reason: { label: 'Your reason', required: true },
		confirm: verb === 'approve' ? 'Approve' : withdraw ? 'Withdraw' : 'Reject',
		danger: verb === 'approve',
		submit: async ({ reason }) => {
			try {
				return await api.post(`/approvals/${a.id}/${verb}`, { reason });
			} catch (x) {
				// Refused as forbidden, the server says why (the proposer
				// set up this account: not two people): more than "your role".
				if (x.status === 403 && x.code === 'forbidden' && x.serverMessage) {
					throw new Error(`Not allowed: ${x.serverMessage.replace(/\.$/, '')}.`);
				}
				throw x;
			}
		},
	});
	if (!r) return false;
	const res = r.result || {};
	const effect = verb === 'approve' ? effectWords(a.kind, res.effect) : '';
	announce(`${KIND[a.kind] || a.kind} #${a.id} ${verb === 'approve' ? 'approved' : withdraw ? 'withdrawn' : 'rejected'}.${effect ? ` ${effect}` : ''}${res.warning ? ` ${res.warning}` : ''}`);
	return true;
}

export function queueTable(items, me, msg, label = 'Pending approvals', after = refresh, empty = 'Nothing waits for approval.') {
	msg.dataset.me = `web:${me.user}`;
	return table({
		label,
		columns: [
			{ label: '#', cls: 'num', render: (a) => String(a.id) },
			{ label: 'What', render: (a) => KIND[a.kind] || a.kind },
			{ label: 'Details', cls: 'break', render: (a) => details(a, me) },
			{ label: 'Proposed', render: (a) => [a.proposer, ' · ', when(a.created)] },
			{ label: 'Reason', cls: 'break hide-narrow', render: (a) => a.reason || '' },
			{ label: 'Decision', render: (a) => {
				if (a.state !== 'pending') {
					const at = a.decided || a.decided_at;
					return h('span', h('span', { class: `badge ${a.state === 'approved' ? 'ok' : 'bad'}` }, a.state),
						a.decided_by ? [' by ', a.decided_by, a.break_glass ? ' (break-glass)' : ''] : '',
						at ? [' · ', when(at)] : '',
						a.decision_reason ? h('span', { class: 'muted' }, ` “${a.decision_reason}”`) : '');
				}
				const b = [];
				if (mayApprove(a, me)) {
					const ok = h('button', { type: 'button', class: 'small primary' }, `Approve #${a.id}`);
					ok.addEventListener('click', async () => { if (await decide(a, 'approve', msg)) after(); });
					b.push(ok);
				}
				if (mayApprove(a, me) || mine(a, me)) {
					const no = h('button', { type: 'button', class: 'small danger' }, mine(a, me) ? `Withdraw #${a.id}` : `Reject #${a.id}`);
					no.addEventListener('click', async () => { if (await decide(a, 'reject', msg)) after(); });
					b.push(no);
				}
				if (!b.length) {
					return h('span', { class: 'muted' }, mine(a, me) ? 'yours' : `waits for ${(a.approvers || []).filter((r) => r !== a.proposer_role).map((r) => ROLE[r] || r).join(' or ')}`);
				}
				return h('div', { class: 'buttons' }, b);
			} },
		],
		rows: items,
		empty,
	});
}

// A disposal run: what the policy says has expired, and no hold covers, is
// frozen into a plan that another role must approve before anything goes.
function disposalCard(msg) {
	const b = h('button', { type: 'button' }, 'Propose a disposal run…');
	b.addEventListener('click', async () => {
		const a = await ask({ title: 'Propose a disposal run?', confirm: 'Propose',
			body: 'The messages due now under the policy in force, and not held, are frozen into a plan. Nothing is destroyed until another role approves it.',
			reason: { label: 'Reason', required: true },
			submit: ({ reason }) => api.post('/dispositions', { reason }) });
		if (!a) return;
		if (a.result.state === 'nothing_due') {
			fill(msg, okBox('Nothing is due for disposal now.'));
			announce('Nothing is due for disposal now.');
		}
		else refresh();
	});
	return h('div', { class: 'buttons' }, b);
}

export async function render({ main, me, params }) {
	main.appendChild(h('h1', 'Approvals'));
	main.appendChild(h('p', { class: 'muted' }, 'A retention policy that shortens retention, releasing a hold, a disposal run and a legal or compliance account an administrator set up take effect only when a second user, of another role, approves; an account, only a compliance officer that administrator did not set up.'));
	const msg = h('div');
	main.appendChild(msg);
	const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
	if (me.role === 'admin' || me.role === 'compliance') main.appendChild(disposalCard(msg));
	try {
		// History: the decided ones (approved or rejected), with their own total.
		const [pend, done] = await Promise.all([api.get('/approvals', { state: 'pending', limit: 200 }),
			api.get('/approvals', { state: 'decided', offset, limit: LIMIT })]);
		// The accounts waiting to open, named for the approver.
		await Promise.all((pend.approvals || []).map(withProposal));
		main.appendChild(h('h2', `Waiting: ${num(pend.total)}`));
		main.appendChild(queueTable(pend.approvals || [], me, msg));
		main.appendChild(h('h2', 'History'));
		const pg = pager({ offset, limit: LIMIT, total: done.total, noun: 'decided proposals', go: (o) => go('approvals', { offset: o }) });
		main.appendChild(pg.el);
		main.appendChild(queueTable(done.approvals || [], me, msg, 'Decided approvals', undefined, 'Nothing decided yet.'));
	} catch (err) {
		main.appendChild(errorBox(err));
	}
}
