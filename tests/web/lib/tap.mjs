// A node:test reporter that prints flat TAP for prove: one "ok N - name"
// per test and subtest (a subtest's name carries its parent's), the error
// of a failure as "# " lines (node's own TAP reporter writes YAML blocks
// that prove's YAML reader refuses), and the plan at the end.
export default async function* tap(source) {
	let n = 0;
	const names = [];
	yield 'TAP version 13\n';
	for await (const ev of source) {
		const d = ev.data || {};
		if (ev.type === 'test:start') {
			names[d.nesting] = d.name;
		} else if (ev.type === 'test:pass' || ev.type === 'test:fail') {
			if (d.details && d.details.type === 'suite') continue;
			names[d.nesting] = d.name;
			const name = names.slice(0, d.nesting + 1).join(' > ').replace(/#/g, '\\#');
			n += 1;
			const skip = d.skip !== undefined ? ` # SKIP ${d.skip === true ? '' : d.skip}` : '';
			if (ev.type === 'test:pass') {
				yield `ok ${n} - ${name}${skip}\n`;
			} else {
				yield `not ok ${n} - ${name}\n`;
				const err = d.details && d.details.error;
				const text = err ? String((err.cause && err.cause.stack) || err.cause || err.stack || err) : 'failed';
				for (const line of text.split('\n').slice(0, 40)) yield `# ${line}\n`;
			}
		} else if (ev.type === 'test:diagnostic' && d.nesting === 0) {
			yield `# ${d.message}\n`;
		} else if (ev.type === 'test:stdout' || ev.type === 'test:stderr') {
			for (const line of String(d.message).split('\n')) if (line) yield `# ${line}\n`;
		}
	}
	yield `1..${n}\n`;
}
