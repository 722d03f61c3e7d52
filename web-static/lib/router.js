// Hash routes (#/search?q=...): the server serves one index.html, and the
// page's state lives in the address, so Back, reload and bookmarks work.
// A route: {path, title, roles, load: () => import('../pages/x.js'), nav}.
// Each part of a path is %-encoded in the address (a matter named
// "100% Fraud" or "Q3 review #2?" is one part); callers give raw names.

function decodePart(p) {
	try {
		return decodeURIComponent(p);
	} catch {
		return null;
	}
}

// {path, parts, params, bad}: bad when a part is not valid %-encoding
// (an address typed or cut by hand); the app shows "not found" then.
export function current() {
	const raw = location.hash.replace(/^#\/?/, '');
	const q = raw.indexOf('?');
	const path = q < 0 ? raw : raw.slice(0, q);
	const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
	const decoded = path.split('/').filter(Boolean).map(decodePart);
	const bad = decoded.includes(null);
	return { path, parts: bad ? [] : decoded, params, bad };
}

// 'matters/Q3 #2' + {q: 'x'} -> '#/matters/Q3%20%232?q=x'; empty values
// are left out.
export function href(path, params) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
	}
	const qs = p.toString();
	const enc = path.split('/').map(encodeURIComponent).join('/');
	return `#/${enc}${qs ? `?${qs}` : ''}`;
}

// Goes to the address; the same address again renders the page anew (the
// browser's own form of the address is compared, not the text given).
export function go(path, params) {
	const before = location.hash;
	location.hash = href(path, params);
	if (location.hash === before) window.dispatchEvent(new HashChangeEvent('hashchange'));
}

// Renders the page at the address anew, adding no history entry (after a
// change made here: a decision, a proposal).
export function refresh() {
	window.dispatchEvent(new HashChangeEvent('hashchange'));
}

// Changes the address without a new render (a page keeping its state in
// the address, e.g. the search's offset).
export function replace(path, params) {
	history.replaceState(null, '', href(path, params));
}

// The route for the first part of the path, among those the role may use.
export function match(routes, role, parts) {
	const name = parts[0] || '';
	return routes.find((r) => r.path === name && r.roles.includes(role)) || null;
}
