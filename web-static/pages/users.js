import { h } from '../lib/dom.js';
export async function render({ main }) { main.appendChild(h('h1', 'users')); main.appendChild(h('p', 'Not built yet.')); }
