// Small charts drawn as inline SVG (issue 14: pictures where people would
// rather look than read). Each chart is role="img" with a title and a
// description that says its numbers in words, for screen readers.

import { s, h, uid, num, timeText } from './dom.js';

function frame(w, ht, title, desc) {
	const tid = uid('chart-title');
	const did = uid('chart-desc');
	const svg = s('svg', { class: 'chart', viewBox: `0 0 ${w} ${ht}`, role: 'img',
		'aria-labelledby': `${tid} ${did}`, preserveAspectRatio: 'xMinYMin meet' },
	s('title', { id: tid }, title), s('desc', { id: did }, desc));
	return svg;
}

// The axis runs 0..4 steps; a step is 1, 2 or 5 times a power of ten and
// at least 1 (whole numbers: an all-zero or small series reads 0,1,2,3,4).
const STEPS = 4;
function niceMax(v) {
	const want = Math.max(1, v / STEPS);
	const p = 10 ** Math.floor(Math.log10(want));
	for (const m of [1, 2, 5, 10]) if (m * p >= want) return m * p * STEPS;
	return 10 * p * STEPS;
}

// Axis labels stay short at any size: 1.5K, 250M, 1B.
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
function tick(n) {
	return n < 10000 ? num(n) : compact.format(n);
}

// Vertical bars, one group per label; series: [{name, values, cls}] (up to
// two, side by side). labels: short strings along the bottom.
export function bars({ title, labels, series, width = 640, height = 220, unit = '' }) {
	const top0 = Math.max(0, ...series.flatMap((x) => x.values.map((v) => v || 0)));
	const max = niceMax(top0);
	const ticks = Array.from({ length: STEPS + 1 }, (_, k) => tick((max * k) / STEPS));
	// Room on the left for the longest label (about 7 units a character).
	const left = Math.max(44, 12 + 7 * Math.max(...ticks.map((t) => t.length)));
	const bottom = 30;
	const top = 10;
	const plotW = width - left - 8;
	const plotH = height - top - bottom;
	const nothing = labels.length > 0 && top0 === 0;
	let desc = 'No data yet.';
	if (nothing) desc = `Nothing yet: every value is 0 (${labels[0]} to ${labels[labels.length - 1]}).`;
	else if (labels.length) desc = labels.map((l, i) => `${l}: ${series.map((x) => `${x.name} ${num(x.values[i])}${unit}`).join(', ')}`).join('; ');
	const svg = frame(width, height, title, desc);
	for (let k = 0; k <= STEPS; k += 1) {
		const y = top + plotH - (plotH * k) / STEPS;
		svg.appendChild(s('line', { class: 'axis', x1: left, x2: width - 8, y1: y, y2: y }));
		svg.appendChild(s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end' }, ticks[k]));
	}
	const n = Math.max(1, labels.length);
	const slot = plotW / n;
	const bw = Math.max(2, Math.min(40, (slot * 0.8) / series.length));
	const every = Math.ceil(n / Math.max(1, Math.floor(plotW / 56)));
	labels.forEach((l, i) => {
		series.forEach((x, j) => {
			const v = x.values[i] || 0;
			const bh = (plotH * v) / max;
			const bx = left + slot * i + (slot - bw * series.length) / 2 + j * bw;
			const r = s('rect', { class: x.cls || (j ? 'bar2' : 'bar'), x: bx.toFixed(1),
				y: (top + plotH - bh).toFixed(1), width: bw.toFixed(1), height: Math.max(0, bh).toFixed(1) });
			r.appendChild(s('title', {}, `${l}: ${x.name} ${num(v)}${unit}`));
			svg.appendChild(r);
		});
		if (i % every === 0) {
			svg.appendChild(s('text', { x: (left + slot * i + slot / 2).toFixed(1), y: height - 10,
				'text-anchor': 'middle' }, l));
		}
	});
	if (!labels.length) {
		svg.appendChild(s('text', { x: width / 2, y: height / 2, 'text-anchor': 'middle' }, 'No data yet'));
	} else if (nothing) {
		svg.appendChild(s('text', { class: 'empty', x: left + plotW / 2, y: (top + plotH * 0.375 + 5).toFixed(1), 'text-anchor': 'middle' }, 'Nothing yet'));
	}
	return svg;
}

// A legend for bars(): [{name, cls}] -> swatches.
export function legend(series) {
	return h('div', { class: 'legend', 'aria-hidden': 'true' },
		series.map((x, j) => h('span', h('span', { class: `swatch ${j ? 'b' : 'a'}` }), x.name)));
}

// A time line from `from` to `to` (Date): ticks for heartbeats and red
// bands for gaps [{from, to}] (Dates). start (a Date, optional): where
// the data begins; before it the line is grey, "no data".
export function timeline({ title, from, to, start = null, beats = [], gaps = [], width = 420, height = 70 }) {
	const span = Math.max(1, to - from);
	const x = (t) => 8 + ((width - 16) * (Math.min(Math.max(t, from), to) - from)) / span;
	const fmt = { format: (d) => timeText(d, 'short') };
	const first = start && start > from ? start : null;
	const since = first || from;
	const words = gaps.length
		? `${gaps.length} gap${gaps.length === 1 ? '' : 's'}: ${gaps.map((g) => `${fmt.format(g.from)} to ${fmt.format(g.to)}`).join('; ')}`
		: `No gaps between ${fmt.format(since)} and ${fmt.format(to)}.`;
	const desc = first ? `No data before ${fmt.format(first)}, the log's first entry. ${words}` : words;
	const svg = frame(width, height, title, desc);
	// A green band where the log has entries, red where it paused, grey
	// before its first entry.
	if (first) {
		const r = s('rect', { class: 'nodata', x: 8, y: 22, width: Math.max(0, x(first) - 8).toFixed(1), height: 16, rx: 3 });
		r.appendChild(s('title', {}, `no data before ${fmt.format(first)}`));
		svg.appendChild(r);
	}
	svg.appendChild(s('rect', { class: 'beat', x: x(since).toFixed(1), y: 22, width: Math.max(2, width - 8 - x(since)).toFixed(1), height: 16, rx: 3 }));
	for (const g of gaps) {
		const r = s('rect', { class: 'gap', x: x(g.from).toFixed(1), y: 14,
			width: Math.max(2, x(g.to) - x(g.from)).toFixed(1), height: 32 });
		r.appendChild(s('title', {}, `gap: ${fmt.format(g.from)} – ${fmt.format(g.to)}`));
		svg.appendChild(r);
	}
	for (const b of beats) {
		svg.appendChild(s('rect', { class: 'axis', x: (x(b) - 1).toFixed(1), y: 18, width: 2, height: 24 }));
	}
	svg.appendChild(s('text', { x: 8, y: height - 8 }, fmt.format(from)));
	svg.appendChild(s('text', { x: width - 8, y: height - 8, 'text-anchor': 'end' }, fmt.format(to)));
	return svg;
}
