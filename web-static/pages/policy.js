// Retention policy (admin proposes, compliance approves): the policy in
// force; an editor with a syntax check as you type and a dry run of the
// impact before proposing (a chart by class and month); the version
// history with diffs; pending proposals with approve/reject and a reason.

import { api } from '../lib/api.js';
import { h, field, fill, when, num } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { bars, legend } from '../lib/charts.js';
import { ask, errorBox, okBox } from '../lib/dialogs.js';
import { queueTable } from './approvals.js';

function diffView(text) {
	return h('pre', { class: 'diff', 'aria-label': 'Differences' }, String(text || '').split('\n').map((ln) => {
		const cls = ln.startsWith('+') && !ln.startsWith('+++') ? 'add' : ln.startsWith('-') && !ln.startsWith('---') ? 'del' : 'ctx';
		return h('span', { class: cls }, ln || ' ');
	}));
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
		const series = [{ name: 'Now', values: byClass.map((c) => c.before || 0) }, { name: 'Proposed', values: byClass.map((c) => c.after || c.messages || 0) }];
		parts.push(h('h3', 'Messages per class'), bars({ title: 'Messages per retention class, now and proposed', labels: byClass.map((c) => c.class || c.rule || ''), series, height: 200 }), legend(series));
	}
	if (byMonth.length) {
		const series = [{ name: 'Expiring now', values: byMonth.map((m) => m.before || 0) }, { name: 'Expiring as proposed', values: byMonth.map((m) => m.after || 0) }];
		parts.push(h('h3', 'Expiries per month'), bars({ title: 'Messages expiring per month, now and as proposed', labels: byMonth.map((m) => m.month), series, height: 200 }), legend(series));
	}
	return h('div', { class: 'stack dry-run' }, parts);
}

function editor(current, msg) {
	const text = field({ label: 'Policy text', name: 'policy', tag: 'textarea', value: current.text || '',
		attrs: { rows: 14, spellcheck: 'false', 'aria-describedby': 'policy-syntax' } });
	const syntax = h('p', { id: 'policy-syntax', class: 'syntax muted', 'aria-live': 'polite' }, 'Edit the rules; they are checked as you type.');
	const impact = h('div', { 'aria-live': 'polite' });
	const dry = h('button', { type: 'button' }, 'Dry run');
	const propose = h('button', { type: 'button', class: 'primary' }, 'Propose…');
	let timer = null;
	let seq = 0;
	text.input.addEventListener('input', () => {
		clearTimeout(timer);
		timer = setTimeout(async () => {
			const mine = ++seq;
			try {
				const r = await api.post('/policy/check', { text: text.input.value });
				if (mine !== seq) return;
				if (r.ok) {
					text.input.removeAttribute('aria-invalid');
					syntax.className = 'syntax good';
					fill(syntax, `✓ The policy is well formed${r.rules !== undefined ? ` (${r.rules} rules)` : ''}.`);
				} else {
					text.input.setAttribute('aria-invalid', 'true');
					syntax.className = 'syntax bad';
					fill(syntax, `✗ ${r.message}`);
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
		try { fill(impact, impactView(await api.post('/policy/dry-run', { text: text.input.value }))); } catch (err) { fill(impact, errorBox(err)); }
	});
	propose.addEventListener('click', async () => {
		const a = await ask({ title: 'Propose this policy', confirm: 'Propose',
			body: 'If it shortens any retention, it takes effect only when a compliance officer approves it.',
			reason: { label: 'Reason for the change', required: true } });
		if (!a) return;
		try {
			const r = await api.post('/policy/proposals', { text: text.input.value, reason: a.reason });
			fill(msg, okBox(r.state === 'approved' || r.status === 'in_force' || r.in_force
				? `Policy version ${r.version} is in force.` : `Proposal #${r.id} waits for approval by a compliance officer.`));
		} catch (err) { fill(msg, errorBox(err)); }
	});
	return h('section', { class: 'card stack', 'aria-labelledby': 'edit-title' },
		h('h2', { id: 'edit-title' }, 'Propose a change'), text.row, syntax,
		h('div', { class: 'buttons' }, dry, propose), impact);
}

async function history(current) {
	const box = h('section', { class: 'stack', 'aria-labelledby': 'hist-title' }, h('h2', { id: 'hist-title' }, 'Version history'));
	try {
		const r = await api.get('/policy/versions');
		const versions = r.versions || [];
		const out = h('div');
		box.append(table({
			label: 'Policy versions',
			columns: [
				{ label: 'Version', cls: 'num', render: (v) => String(v.version) },
				{ label: 'Set', render: (v) => when(v.set || v.time) },
				{ label: 'By', render: (v) => v.by || v.actor || '' },
				{ label: 'Reason', cls: 'break hide-narrow', render: (v) => v.reason || '' },
				{ label: 'State', render: (v) => (v.version === current.version ? h('span', { class: 'badge ok' }, 'in force') : '') },
				{ label: 'Changes', render: (v) => {
					if (v.version <= 1) return '';
					const b = h('button', { type: 'button', class: 'small secondary' }, `Diff ${v.version - 1} → ${v.version}`);
					b.addEventListener('click', async () => {
						try {
							const d = await api.get('/policy/diff', { from: v.version - 1, to: v.version });
							fill(out, h('h3', `Version ${v.version - 1} → ${v.version}`), diffView(d.diff));
						} catch (err) { fill(out, errorBox(err)); }
					});
					return b;
				} },
			],
			rows: versions,
		}), out);
	} catch (err) {
		box.appendChild(errorBox(err));
	}
	return box;
}

async function proposals(me, msg) {
	const box = h('section', { class: 'stack', 'aria-labelledby': 'prop-title' }, h('h2', { id: 'prop-title' }, 'Pending proposals'));
	try {
		const r = await api.get('/approvals', { kind: 'policy' });
		const items = (r.approvals || []).filter((a) => a.kind === 'policy' && (!a.state || a.state === 'pending'));
		box.appendChild(queueTable(items, me, msg, 'Pending policy proposals'));
		for (const a of items) {
			if (a.diff) box.append(h('h3', `Proposal #${a.id}`), diffView(a.diff));
		}
	} catch (err) {
		box.appendChild(errorBox(err));
	}
	return box;
}

export async function render({ main, me }) {
	main.appendChild(h('h1', 'Retention policy'));
	const msg = h('div');
	main.appendChild(msg);
	let current;
	try {
		current = await api.get('/policy');
	} catch (err) {
		main.appendChild(errorBox(err));
		return;
	}
	const inForce = h('section', { class: 'card stack', 'aria-labelledby': 'cur-title' },
		h('h2', { id: 'cur-title' }, `In force: version ${current.version}`),
		h('p', { class: 'muted small-text' }, 'Set ', when(current.set || current.time), current.by ? ` by ${current.by}` : ''),
		h('pre', { 'aria-label': 'The policy in force' }, current.text || ''));
	main.appendChild(me.role === 'admin' ? h('div', { class: 'split' }, editor(current, msg), inForce) : inForce);
	main.appendChild(await proposals(me, msg));
	main.appendChild(await history(current));
	if (me.role === 'compliance') main.appendChild(h('p', h('a', { href: '#/approvals' }, 'All approvals')));
}
