// The query language's syntax check as you type (GET /search/check),
// for every box that takes a query: search, a matter's hold and export.

import { api } from './api.js';
import { fill } from './dom.js';

// Asks the server whether the query in input parses, as the user types
// (debounced), and says so in out; emptyText when it is empty.
export function syntaxChecker(input, out, emptyText = 'An empty search lists every message.') {
	let timer = null;
	let seq = 0;
	return function check() {
		clearTimeout(timer);
		timer = setTimeout(async () => {
			const mine = ++seq;
			const q = input.value;
			if (!q.trim()) {
				input.removeAttribute('aria-invalid');
				out.className = 'syntax muted';
				fill(out, emptyText);
				return;
			}
			try {
				const r = await api.get('/search/check', { q });
				if (mine !== seq) return;
				if (r.ok) {
					input.removeAttribute('aria-invalid');
					out.className = 'syntax good';
					fill(out, '✓ The query is well formed.');
				} else {
					input.setAttribute('aria-invalid', 'true');
					out.className = 'syntax bad';
					fill(out, `✗ ${r.message}`);
				}
			} catch (err) {
				if (mine !== seq) return;
				out.className = 'syntax bad';
				fill(out, err.message);
			}
		}, 250);
	};
}
