// The JSON API of `popvault serve` (docs/api.md): one fetch wrapper that
// sends the CSRF token on every state-changing request, turns each error
// answer into an ApiError with words a user understands, and tells the app
// when the session has ended.

const BASE = '/api/v1';
let csrf = null;
let onExpired = null;
let onRefused = null;

export class ApiError extends Error {
	constructor(status, code, serverMessage, retryAfter) {
		super(explain(status, code, serverMessage, retryAfter));
		this.status = status;
		this.code = code;
		this.serverMessage = serverMessage;
		this.retryAfter = retryAfter;
	}
}

// What a user is told for each error code (the server's message is shown
// where it is itself meant for people: a query or policy the parser refused).
export function explain(status, code, serverMessage, retryAfter) {
	const wait = retryAfter ? ` Try again in ${retryAfter} second${retryAfter === '1' ? '' : 's'}.` : '';
	switch (code) {
	case 'audit_failed':
		return 'The audit log cannot be written, so nothing can be shown or changed right now. Ask an administrator to check the appliance’s storage.';
	case 'bad_query':
	case 'bad_policy':
	case 'invalid':
	case 'conflict':
	case 'pending':
	case 'same_user':
	case 'two_person':
		return serverMessage || 'The request was refused.';
	case 'integrity_failed':
		return 'This message’s stored content fails its integrity check, so it is not shown; a compliance officer must run Verify (Integrity page) to find what changed.';
	case 'integrity':
		return 'Expired messages lost their content without a disposal record, so no disposal can be proposed. A compliance officer must run Verify (Integrity page) to find what changed.';
	case 'unauthorized':
		return 'Your session has ended. Please sign in again.';
	case 'totp_required':
		return 'Enter the six-digit code from your authenticator app.';
	case 'totp_not_enrolled':
		return 'Your role requires a one-time code, but no authenticator is set up for you yet: set one up when you sign in.';
	case 'access_not_approved':
		return 'An administrator set up this account. It opens once a compliance officer approves it: ask them.';
	case 'access_refused':
		return 'The request to open this account was refused or withdrawn. It stays shut until an administrator asks again.';
	case 'password_change_required':
		return 'This password was set for you and works once: choose your own when you sign in.';
	case 'forbidden':
		return 'Your role may not do this.';
	case 'csrf':
	case 'cross_origin':
		return 'The request was refused as it did not come from this page. Reload the page and try again.';
	case 'not_found':
		return 'This item does not exist or is no longer in the archive.';
	case 'too_many_requests':
		return `Too many failed attempts.${wait || ' Wait a while and try again.'}`;
	case 'unavailable':
		return `The appliance is busy.${wait || ' Try again in a moment.'}`;
	case 'too_large':
		return 'That is too large to send.';
	case 'internal':
		return 'The appliance met an internal error; the details are in its log.';
	case 'network':
		return 'The appliance cannot be reached. Check the network connection.';
	default:
		if (status === 400 && serverMessage) return serverMessage;
		return serverMessage ? `The request failed: ${serverMessage}` : `The request failed (HTTP ${status}).`;
	}
}

export function setCsrf(token) { csrf = token; }
// fn(err, {method, path}): a request found the session ended.
export function whenExpired(fn) { onExpired = fn; }
// fn(err): a request was refused as forbidden or without the session's
// CSRF token (another tab may have signed in as someone else).
export function whenRefused(fn) { onRefused = fn; }

export function url(path, params) {
	const u = new URL(BASE + path, location.origin);
	for (const [k, v] of Object.entries(params || {})) {
		if (v !== undefined && v !== null && v !== '') u.searchParams.set(k, v);
	}
	return u.pathname + u.search;
}

async function call(method, path, { params, body, quiet401 } = {}) {
	const headers = { Accept: 'application/json' };
	const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
	if (method !== 'GET' && method !== 'HEAD') {
		if (csrf) headers['X-CSRF-Token'] = csrf;
		if (body !== undefined) {
			headers['Content-Type'] = 'application/json';
			init.body = JSON.stringify(body);
		}
	}
	let res;
	try {
		res = await fetch(url(path, params), init);
	} catch {
		throw new ApiError(0, 'network', null, null);
	}
	let data = null;
	const type = res.headers.get('Content-Type') || '';
	if (type.startsWith('application/json')) {
		try { data = await res.json(); } catch { data = null; }
	}
	if (res.ok) return data;
	const e = (data && data.error) || {};
	const err = new ApiError(res.status, e.code || `http_${res.status}`, e.message || null,
		res.headers.get('Retry-After'));
	if (res.status === 401 && err.code === 'unauthorized' && !quiet401 && onExpired) onExpired(err, { method, path });
	if (res.status === 403 && (err.code === 'forbidden' || err.code === 'csrf') && onRefused) onRefused(err);
	throw err;
}

export const api = {
	get: (path, params, opts) => call('GET', path, { params, ...opts }),
	post: (path, body, opts) => call('POST', path, { body, ...opts }),
	put: (path, body, opts) => call('PUT', path, { body, ...opts }),
	patch: (path, body, opts) => call('PATCH', path, { body, ...opts }),
	del: (path, opts) => call('DELETE', path, opts || {}),
	url,
};
