// One message (legal): headers, the sanitised HTML in a sandboxed frame
// (no scripts, no same-origin: the server's own sandbox CSP on it), the
// text, attachments as downloads, the raw bytes, the integrity mark with
// its inclusion proof, and the retention class, expiry and holds.

import { api } from '../lib/api.js';
import { h, fill, when, num, bytes } from '../lib/dom.js';
import { table } from '../lib/table.js';
import { errorBox } from '../lib/dialogs.js';
import { href } from '../lib/router.js';

// The signed checkpoint inside a C2SP tlog-proof: its size, and for each
// signature the key name and key ID (the first 4 bytes of the signature).
export function parseProof(text) {
	const cut = text.indexOf('\n\n');
	if (cut < 0) return null;
	const lines = text.slice(cut + 2).split('\n');
	const size = parseInt(lines[1], 10);
	const sigs = [];
	for (const ln of lines.slice(4)) {
		const m = /^\u2014 (\S+) (\S+)$/.exec(ln);
		if (!m) continue;
		let id = '';
		try {
			id = Array.from(atob(m[2]).slice(0, 4), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('');
		} catch { id = ''; }
		sigs.push({ name: m[1], id });
	}
	return { origin: lines[0], size, sigs };
}

function integrityMark(meta, proof, vkeys) {
	const base = `/messages/${meta.id}`;
	const dl = (what, text) => h('a', { class: 'button small', href: api.url(`${base}/${what}`), download: '' }, text);
	if (!proof) {
		return h('section', { class: 'integrity bad', 'aria-labelledby': 'int-title' },
			h('h2', { id: 'int-title' }, 'Integrity'), h('p', 'The inclusion proof could not be read.'));
	}
	const sig = proof.sigs[0] || { name: '?', id: '' };
	const vkey = (vkeys || []).find((k) => sig.id && k.split('+')[1] === sig.id);
	return h('section', { class: 'integrity', 'aria-labelledby': 'int-title' },
		h('h2', { id: 'int-title' }, '✓ Integrity mark'),
		h('p', h('strong', 'Exact bytes as received'), `, leaf ${num(meta.leaf_index)} of the archive log, in checkpoint ${num(proof.size)} signed by `,
			h('code', { class: 'break' }, vkey || `${sig.name}+${sig.id}`), '.'),
		h('p', { class: 'small-text' }, 'SHA-256 of the bytes: ', h('code', { class: 'break' }, meta.sha256)),
		h('p', { class: 'small-text muted' }, 'Anyone can check this offline with the raw message, the proof and the archive log’s verifier key.'),
		h('div', { class: 'buttons' }, dl('proof', 'Download inclusion proof'), dl('raw', 'Download raw message (.eml)')));
}

// A message whose stored content fails its integrity check: its content
// is not shown, but its inclusion proof still answers, and shows what was
// archived (the leaf commits to the original bytes).
async function damagedMark(id) {
	const ok = await fetch(api.url(`/messages/${id}/proof`), { credentials: 'same-origin' })
		.then((r) => r.ok).catch(() => false);
	return h('section', { class: 'integrity bad', 'aria-labelledby': 'int-title' },
		h('h2', { id: 'int-title' }, '✗ Integrity check failed'),
		h('p', 'What is stored for this message now is not what was archived. Its inclusion proof still shows what was: its leaf in the signed archive log commits to the original bytes.'),
		ok ? h('div', { class: 'buttons' }, h('a', { class: 'button small', href: api.url(`/messages/${id}/proof`), download: '' }, 'Download inclusion proof'))
			: h('p', { class: 'muted' }, 'The inclusion proof cannot be read either.'));
}

// The search the message was opened from, with from=ID: that page gives
// the message's link the focus again (not the heading at the top).
function backTo(back, id) {
	if (!back || !back.startsWith('#/search')) return href('search');
	if (!/^[0-9]+$/.test(id || '')) return back;
	const q = back.indexOf('?');
	const p = new URLSearchParams(q < 0 ? '' : back.slice(q + 1));
	p.set('from', id);
	p.delete('focus');
	return `${q < 0 ? back : back.slice(0, q)}?${p}`;
}

export async function render({ main, parts, params, title }) {
	const id = parts[1];
	const back = params.get('back');
	const backLink = h('p', h('a', { href: backTo(back, id) }, '← Back to the search'));
	if (!/^[0-9]+$/.test(id || '')) {
		main.append(h('h1', 'Message'), backLink, errorBox({ message: 'This is not a message number.' }));
		return;
	}
	let meta;
	try {
		meta = await api.get(`/messages/${id}`);
	} catch (err) {
		main.append(h('h1', `Message ${id}`), backLink, errorBox(err));
		if (err.code === 'integrity_failed') main.append(await damagedMark(id));
		return;
	}
	const hd = meta.headers || {};
	title(hd.subject || `Message ${id}`);
	// A long subject is cut to a few lines here; all of it is in the
	// heading's title and in the headers below.
	main.append(h('h1', { class: 'break clamp', title: hd.subject || null }, hd.subject || '(no subject)'), backLink);

	const [proofText, cps, partList] = await Promise.all([
		fetch(api.url(`/messages/${id}/proof`), { credentials: 'same-origin' }).then((r) => (r.ok ? r.text() : null)).catch(() => null),
		api.get('/checkpoints').catch(() => null),
		api.get(`/messages/${id}/parts`).catch((err) => ({ error: err })),
	]);
	const proof = proofText ? parseProof(proofText) : null;
	const vkeys = cps && cps.archive ? (cps.archive.vkeys || [cps.archive.vkey]) : [];

	const headers = h('section', { class: 'card', 'aria-labelledby': 'hdr-title' },
		h('h2', { id: 'hdr-title' }, 'Headers'),
		h('dl', { class: 'facts headers' },
			h('dt', 'From'), h('dd', hd.from || '—'),
			h('dt', 'To'), h('dd', hd.to || '—'),
			hd.cc ? [h('dt', 'Cc'), h('dd', hd.cc)] : null,
			h('dt', 'Date'), h('dd', hd.date ? when(hd.date) : '—'),
			h('dt', 'Subject'), h('dd', hd.subject || '—'),
			h('dt', 'Message-ID'), h('dd', h('code', hd.message_id || '—')),
			h('dt', 'Account'), h('dd', meta.account),
			h('dt', 'Received'), h('dd', when(meta.received)),
			h('dt', 'Size'), h('dd', bytes(meta.size)),
			h('dt', 'Archive number'), h('dd', String(meta.id))));

	const ret = meta.retention || {};
	const holds = meta.holds || [];
	const retention = h('section', { class: 'card', 'aria-labelledby': 'ret-title' },
		h('h2', { id: 'ret-title' }, 'Retention'),
		h('dl', { class: 'facts' },
			h('dt', 'Class'), h('dd', ret.class || '—'),
			h('dt', 'Expires'), h('dd', ret.expires ? when(ret.expires, true) : 'kept forever'),
			h('dt', 'Policy version'), h('dd', ret.policy_version !== undefined ? String(ret.policy_version) : '—'),
			h('dt', 'Holds'), h('dd', holds.length ? h('ul', holds.map((n) => h('li', n))) : 'none')),
		holds.length ? h('p', { class: 'small-text muted' }, 'A hold keeps the message past its expiry until the hold is released.') : null);

	main.appendChild(h('div', { class: 'split' }, headers, h('div', { class: 'stack' }, integrityMark(meta, proof, vkeys), retention)));

	// The body: sanitised HTML in a frame that can run nothing and reach
	// nothing (sandbox without allow-scripts or allow-same-origin).
	main.appendChild(h('h2', 'Message'));
	const frame = h('iframe', { class: 'mail', sandbox: '', referrerpolicy: 'no-referrer',
		title: 'Message body (sanitised HTML)', src: api.url(`/messages/${id}/html`) });
	main.appendChild(frame);
	const text = h('pre', { class: 'mail-text' });
	const details = h('details', h('summary', 'Plain text'), text);
	let loaded = false;
	details.addEventListener('toggle', async () => {
		if (!details.open || loaded) return;
		loaded = true;
		fill(text, 'Loading…');
		try {
			const t = await api.get(`/messages/${id}/text`);
			fill(text, t.text, t.truncated ? '\n[… longer than shown]' : '');
		} catch (err) { fill(text, err.message); }
	});
	main.appendChild(details);

	main.appendChild(h('h2', 'Attachments and parts'));
	if (partList.error) {
		main.appendChild(errorBox(partList.error));
	} else {
		main.appendChild(table({
			label: 'Parts',
			columns: [
				{ label: '#', cls: 'num', render: (p) => String(p.n) },
				{ label: 'Name', cls: 'break', render: (p) => p.filename || (p.attachment ? `part-${p.n}` : '(body)') },
				{ label: 'Type', render: (p) => p.content_type },
				{ label: 'Size', cls: 'num', render: (p) => bytes(p.size) },
				{ label: 'Download', render: (p) => h('a', { href: api.url(`/messages/${id}/parts/${p.n}`), download: '' },
					`Download${p.filename ? '' : ` part ${p.n}`}`, h('span', { class: 'hide-visually' }, p.filename ? ` ${p.filename}` : '')) },
			],
			rows: partList.parts || [],
			empty: 'No parts.',
		}));
	}
}
