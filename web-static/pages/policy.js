// Retention policy (admin proposes, compliance approves): the policy in
// force; an editor with a syntax check as you type and a dry run of the
// impact before proposing (a chart by class and month); the version
// history with diffs; pending proposals with approve/reject and a reason.

import { api } from '../lib/api.js';
import { h, field, fill, when, num } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { bars, legend } from '../lib/charts.js';
import { ask, errorBox, okBox, announce } from '../lib/dialogs.js';
import { queueTable } from './approvals.js';
import { replace, refresh } from '../lib/router.js';

// A line diff as the API gives it: [{op: same|add|del, text}].
function diffView(d) {
	const lines = (d && d.lines) || [];
	return h('pre', { class: 'diff', 'aria-label': `Differences: ${num(d ? d.added : 0)} lines added, ${num(d ? d.removed : 0)} removed` },
		lines.map((l) => h('span', { class: l.op === 'add' ? 'add' : l.op === 'del' ? 'del' : 'ctx' },
			`${l.op === 'add' ? '+ ' : l.op === 'del' ? '- ' : '  '}${l.text}`)));
}

// A checker's answer {ok: false, errors: [{line, column, message}]} in words.
function diagText(r) {
	return (r.errors || []).map((e) => `line ${e.line}, column ${e.column}: ${e.message}`).join('; ') || 'The policy does not parse.';
}

// The dry run's impact: how many messages change class or expiry, by class
// and by month, as a chart and in words.
function impactView(r) {
	const byClass = r.by_class || r.classes || r.impact || [];
	const byMonth = r.months || r.by_month || [];
	const changed = r.changed !== undefined ? r.changed : r.changes;
	const earlier = r.earlier !== undefined ? r.earlier : r.shortened;
	const due = r.due_now !== undefined ? r.due_now : r.expire_now;
	const parts = [h('p', { class: `notice ${r.shortens ? 'warn' : 'info'}` },
		`${num(changed)} of ${num(r.messages)} messages change class or expiry`,
		earlier !== undefined ? `; ${num(earlier)} would expire earlier` : '',
		due !== undefined ? `; ${num(due)} would be due for disposal at once` : '', '.',
		r.shortens ? ' This shortens retention: a compliance officer must approve it.' : '')];
	if (byClass.length) {
		const series = [{ name: 'Kept shorter', values: byClass.map((c) => c.shorter || 0) }, { name: 'Kept longer or reclassified', values: byClass.map((c) => (c.longer || 0) + (c.reclassified || 0)) }];
		parts.push(h('h3', 'Changes per class (rule of the proposed policy)'), bars({ title: 'Messages whose retention changes, per class of the proposed policy', labels: byClass.map((c) => c.class), series, height: 200 }), legend(series));
	}
	if (byMonth.length) {
		const series = [{ name: 'Expiring now', values: byMonth.map((m) => m.before || 0) }, { name: 'Expiring as proposed', values: byMonth.map((m) => m.after || 0) }];
		parts.push(h('h3', 'Expiries per month'), bars({ title: 'Messages expiring per month, now and as proposed', labels: byMonth.map((m) => m.month), series, height: 200 }), legend(series));
	}
	return h('div', { class: 'stack dry-run' }, parts);
}

// editor(): proposed() is called after a proposal was made (the pending
// proposals are drawn anew).
function editor(current, msg, proposed) {
	const text = field({ label: 'Policy text', name: 'policy', tag: 'textarea', value: current.text || '',
		attrs: { rows: 14, spellcheck: 'false', 'aria-describedby': 'policy-syntax' } });
	const syntax = h('p', { id: 'policy-syntax', class: 'syntax muted', 'aria-live': 'polite' }, 'Edit the rules; they are checked as you type.');
	const impact = h('div', { 'aria-live': 'polite' });
	const dry = h('button', { type: 'button' }, 'Dry run');
	const propose = h('button', { type: 'button', class: 'primary', 'aria-describedby': 'policy-syntax' }, 'Propose…');
	let timer = null;
	let seq = 0;
	text.input.addEventListener('input', () => {
		// An earlier proposal's answer is about another text.
		fill(msg);
		clearTimeout(timer);
		timer = setTimeout(async () => {
			const mine = ++seq;
			try {
				const r = await api.post('/policy/check', { text: text.input.value });
				if (mine !== seq) return;
				propose.disabled = !r.ok;
				if (r.ok) {
					text.input.removeAttribute('aria-invalid');
					syntax.className = 'syntax good';
					fill(syntax, `✓ The policy is well formed (${num(r.rules)} rule${r.rules === 1 ? '' : 's'}).`);
				} else {
					text.input.setAttribute('aria-invalid', 'true');
					syntax.className = 'syntax bad';
					fill(syntax, `✗ ${diagText(r)}`);
				}
			} catch (err) {
				if (mine !== seq) return;
				syntax.className = 'syntax bad';
				fill(syntax, err.message);
			}
		}, 300);
	});
	dry.addEventListener('click', async () => {
		fill(impact, h('p', { class: 'muted' }, 'Working out the impact…'));
		try {
			const r = await api.post('/policy/dry-run', { text: text.input.value });
			fill(impact, r.ok === false ? errorBox({ message: `The policy does not parse: ${diagText(r)}` }) : impactView(r));
		} catch (err) { fill(impact, errorBox(err)); }
	});
	propose.addEventListener('click', async () => {
		const a = await ask({ title: 'Propose this policy', confirm: 'Propose',
			body: 'If it shortens any retention, it takes effect only when a compliance officer approves it.',
			reason: { label: 'Reason for the change', required: true },
			submit: ({ reason }) => api.post('/policy/proposals', { text: text.input.value, reason }) });
		if (!a) return;
		const r = a.result;
		// In force at once: the page is drawn anew around the new version.
		if (r.state === 'applied') { replace('policy', { applied: r.version }); refresh(); return; }
		const said = `Proposal #${r.approval.id} shortens retention: it waits for approval by a compliance officer.`;
		fill(msg, okBox(said));
		announce(said);
		msg.scrollIntoView({ block: 'nearest' });
		proposed();
	});
	return h('section', { class: 'card stack', 'aria-labelledby': 'edit-title' },
		h('h2', { id: 'edit-title' }, 'Propose a change'), text.row, syntax,
		h('div', { class: 'buttons' }, dry, propose), impact);
}

async function history() {
	const box = h('section', { class: 'stack', 'aria-labelledby': 'hist-title' }, h('h2', { id: 'hist-title' }, 'Version history'));
	try {
		const r = await api.get('/policy/versions');
		const versions = r.versions || [];
		const out = h('div');
		box.append(table({
			label: 'Policy versions',
			columns: [
				{ label: 'Version', cls: 'num', render: (v) => String(v.version) },
				{ label: 'Set', render: (v) => when(v.created) },
				{ label: 'By', render: (v) => v.actor },
				{ label: 'SHA-256', cls: 'break hide-narrow', render: (v) => h('code', v.sha256.slice(0, 16), '…') },
				{ label: 'State', render: (v) => (v.version === r.current ? h('span', { class: 'badge ok' }, 'in force') : '') },
				{ label: 'Changes', render: (v) => {
					if (v.version <= 1) return '';
					const b = h('button', { type: 'button', class: 'small secondary' }, `Diff ${v.version - 1} → ${v.version}`);
					b.addEventListener('click', async () => {
						try {
							const d = await api.get('/policy/diff', { from: v.version - 1, to: v.version });
							fill(out, h('h3', `Version ${v.version - 1} → ${v.version}`), diffView(d));
						} catch (err) { fill(out, errorBox(err)); }
					});
					return b;
				} },
			],
			rows: versions.slice().reverse(),
		}), out);
	} catch (err) {
		box.appendChild(errorBox(err));
	}
	return box;
}

// A pending policy proposal: its changes, and its impact on the archive
// now (the dry run of its text), for the approver to see before deciding.
function proposalView(a, one) {
	const p = one.proposal || {};
	const impact = h('div', { 'aria-live': 'polite' });
	const dry = h('button', { type: 'button', class: 'secondary' }, `Dry run of proposal #${a.id}`);
	dry.addEventListener('click', async () => {
		fill(impact, h('p', { class: 'muted' }, 'Working out the impact…'));
		try {
			const r = await api.post('/policy/dry-run', { text: p.text });
			fill(impact, r.ok === false ? errorBox({ message: `The policy does not parse: ${diagText(r)}` }) : impactView(r));
		} catch (err) { fill(impact, errorBox(err)); }
	});
	return h('div', { class: 'stack' },
		p.diff ? [h('h3', `Proposal #${a.id}: changes against version ${p.base_version}`), diffView(p.diff)] : h('h3', `Proposal #${a.id}`),
		typeof p.text === 'string' ? h('div', { class: 'buttons' }, dry) : null, impact);
}

// The pending policy proposals; returns the section and draw() that
// fills it anew.
function proposals(me, msg) {
	const list = h('div', { class: 'stack' });
	const box = h('section', { class: 'stack', 'aria-labelledby': 'prop-title' }, h('h2', { id: 'prop-title' }, 'Pending proposals'), list);
	async function draw() {
		try {
			const r = await api.get('/approvals', { state: 'pending' });
			const items = (r.approvals || []).filter((a) => a.kind === 'policy');
			const views = await Promise.all(items.map(async (a) => proposalView(a, await api.get(`/approvals/${a.id}`))));
			fill(list, queueTable(items, me, msg, 'Pending policy proposals', refresh), views);
		} catch (err) {
			fill(list, errorBox(err));
		}
	}
	return { box, draw };
}

export async function render({ main, me, params }) {
	main.appendChild(h('h1', 'Retention policy'));
	const msg = h('div');
	main.appendChild(msg);
	// The notice is shown once: Back or a reload does not bring it back.
	if (params.get('applied')) {
		const said = `Policy version ${params.get('applied')} is in force: it shortens no retention, so it needed no approval.`;
		fill(msg, okBox(said));
		announce(said);
		replace('policy');
	}
	let current;
	try {
		current = await api.get('/policy');
	} catch (err) {
		main.appendChild(errorBox(err));
		return;
	}
	const inForce = h('section', { class: 'card stack', 'aria-labelledby': 'cur-title' },
		h('h2', { id: 'cur-title' }, `In force: version ${current.version}`),
		h('p', { class: 'muted small-text' }, 'Set ', when(current.created), ` by ${current.actor}`),
		h('pre', { 'aria-label': 'The policy in force' }, current.text || ''));
	const pending = proposals(me, msg);
	main.appendChild(me.role === 'admin' ? h('div', { class: 'split' }, editor(current, msg, pending.draw), inForce) : inForce);
	await pending.draw();
	main.appendChild(pending.box);
	main.appendChild(await history());
	if (me.role === 'compliance') main.appendChild(h('p', h('a', { href: '#/approvals' }, 'All approvals')));
}
