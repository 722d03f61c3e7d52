// web-static/vendor/MANIFEST.json names every vendored file with its
// SHA-256; the directory holds exactly those files, byte for byte, and no
// page loads anything from outside the appliance (no http: or https: URL in
// web-static's code, no inline script or style in its HTML).
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../web-static');
const VENDOR = path.join(ROOT, 'vendor');

function walk(dir, out = []) {
	for (const n of readdirSync(dir)) {
		const p = path.join(dir, n);
		if (statSync(p).isDirectory()) walk(p, out); else out.push(p);
	}
	return out;
}

test('vendored files match MANIFEST.json (names and SHA-256)', () => {
	const m = JSON.parse(readFileSync(path.join(VENDOR, 'MANIFEST.json'), 'utf8'));
	const listed = {};
	for (const pkg of m.packages) {
		assert.match(pkg.version, /^\d+\.\d+\.\d+$/, `${pkg.name}: an exact version`);
		assert.match(pkg.npm_integrity, /^sha512-/, `${pkg.name}: the npm tarball's integrity`);
		for (const [f, v] of Object.entries(pkg.files)) listed[f] = v.sha256;
	}
	const present = walk(VENDOR).map((p) => path.relative(VENDOR, p)).filter((p) => p !== 'MANIFEST.json').sort();
	assert.deepEqual(present, Object.keys(listed).sort(), 'every vendored file is listed, and only those');
	for (const [f, sum] of Object.entries(listed)) {
		const got = createHash('sha256').update(readFileSync(path.join(VENDOR, f))).digest('hex');
		assert.equal(got, sum, `${f}: SHA-256`);
	}
});

test('nothing in web-static loads from another host, no inline script or style, no innerHTML or eval', () => {
	for (const p of walk(ROOT)) {
		if (p.startsWith(VENDOR)) continue;
		const text = readFileSync(p, 'utf8');
		const rel = path.relative(ROOT, p);
		if (/\.(js|css|html)$/.test(p)) {
			assert.doesNotMatch(text.replace(/http:\/\/www\.w3\.org\/2000\/svg/g, ''), /https?:\/\//, `${rel}: an outside URL`);
		}
		if (p.endsWith('.js')) {
			assert.doesNotMatch(text, /\binnerHTML\b|\bouterHTML\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(/, `${rel}: HTML from strings or eval`);
		}
		if (p.endsWith('.html')) {
			assert.doesNotMatch(text, /<script(?![^>]*\bsrc=)[^>]*>/i, `${rel}: inline script`);
			assert.doesNotMatch(text, /<style|\sstyle=|\son[a-z]+=/i, `${rel}: inline style or handler`);
		}
	}
});
