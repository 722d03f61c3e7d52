// Hash routes (#/search?q=...): the server serves one index.html, and the
// page's state lives in the address, so Back, reload and bookmarks work.
// A route: {path, title, roles, load: () => import('../pages/x.js'), nav}.

export function current() {
	const raw = location.hash.replace(/^#\/?/, '');
	const q = raw.indexOf('?');
	const path = q < 0 ? raw : raw.slice(0, q);
	const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
	const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
	return { path, parts, params };
}

// '#/search' + {q: 'x'} -> '#/search?q=x'; empty values are left out.
export function href(path, params) {
	const p = new URLSearchParams();
	for (const [k, v] of Object.entries(params || {})) {
		if (v !== undefined && v !== null && v !== '') p.set(k, String(v));
	}
	const qs = p.toString();
	return `#/${path}${qs ? `?${qs}` : ''}`;
}

export function go(path, params) {
	const target = href(path, params);
	if (location.hash === target) window.dispatchEvent(new HashChangeEvent('hashchange'));
	else location.hash = target;
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
