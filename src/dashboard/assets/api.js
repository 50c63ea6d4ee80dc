// The operator's API key, kept for this browser tab only, and the API calls made with it.
const KEY = 'paylinks.apiKey';

export const apiKey = () => sessionStorage.getItem(KEY);
export const saveKey = (key) => sessionStorage.setItem(KEY, key);
export const forgetKey = () => sessionStorage.removeItem(KEY);

export class ApiFailure extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export async function api(path, key = apiKey()) {
  const res = await fetch(path, { headers: { authorization: `Bearer ${key}`, accept: 'application/json' } });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiFailure(res.status, body?.error?.message ?? `HTTP ${res.status}`);
  return body;
}

/** An amount in minor units, shown in its currency (the currency's own number of decimals). */
export function money(minor, currency) {
  const format = new Intl.NumberFormat('en', { style: 'currency', currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(minor / 10 ** digits);
}

export const percent = (rate) => (rate === null ? '–' : `${(rate * 100).toFixed(1)}%`);

export function duration(seconds) {
  if (seconds === null) return '–';
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

export const collected = (amounts) =>
  Object.entries(amounts)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([currency, minor]) => money(minor, currency))
    .join(', ') || '–';

/** A table row of text cells (never HTML: every value is set as text). */
export function row(cells) {
  const tr = document.createElement('tr');
  for (const cell of cells) {
    const td = document.createElement('td');
    if (cell instanceof Node) td.append(cell);
    else td.textContent = String(cell);
    if (typeof cell === 'number') td.className = 'num';
    tr.append(td);
  }
  return tr;
}

export function definitionList(target, entries) {
  target.replaceChildren(
    ...entries.map(([term, value, id]) => {
      const div = document.createElement('div');
      const dt = document.createElement('dt');
      const dd = document.createElement('dd');
      dt.textContent = term;
      dd.textContent = String(value);
      if (id) dd.id = id;
      div.append(dt, dd);
      return div;
    }),
  );
}
