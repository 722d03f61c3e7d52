// A QR code drawn in the page as SVG from the vendored encoder (uqr, see
// vendor/MANIFEST.json): the TOTP enrolment URI never leaves the appliance.

import { encode } from '../vendor/uqr-0.1.3/index.mjs';
import { s } from './dom.js';

// text -> <svg role="img"> with one rect per dark module, a 4-module quiet
// zone, error correction M; label: its accessible name.
export function qrSvg(text, label) {
	const qr = encode(text, { ecc: 'M', border: 4 });
	const n = qr.size;
	const svg = s('svg', { class: 'qr', viewBox: `0 0 ${n} ${n}`, role: 'img', 'aria-label': label,
		'shape-rendering': 'crispEdges', 'data-modules': n });
	// One path would be smaller; rects keep it obviously correct.
	for (let y = 0; y < n; y += 1) {
		for (let x = 0; x < n; x += 1) {
			if (qr.data[y][x]) svg.appendChild(s('rect', { class: 'on', x, y, width: 1, height: 1 }));
		}
	}
	return svg;
}
