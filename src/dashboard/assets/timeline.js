import { api, apiKey, collected, definitionList, row } from './api.js';

const $ = (id) => document.getElementById(id);
const linkId = decodeURIComponent(location.pathname.split('/').at(-1));

/** The entry's data as "name: value" pairs, as text. */
const details = (data) =>
  Object.entries(data ?? {})
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : v}`)
    .join(', ');

async function show() {
  if (!apiKey()) {
    $('status').textContent = 'Sign in on the dashboard first.';
    return;
  }
  try {
    const [link, events] = await Promise.all([
      api(`/v1/payment_links/${encodeURIComponent(linkId)}`),
      api(`/v1/payment_links/${encodeURIComponent(linkId)}/events`),
    ]);
    document.title = `${link.id} · Link timeline · Paylinks dashboard`;
    definitionList($('link-summary'), [
      ['Link', link.id, 'link-id'],
      ['Status', link.status, 'link-status'],
      ['Amount', collected({ [link.currency]: link.amount })],
      ['Paid', collected({ [link.currency]: link.amount_paid ?? 0 })],
      ['Campaign', link.campaign_id ?? '–'],
    ]);
    $('events-table').tBodies[0].replaceChildren(
      ...events.data.map((e) =>
        row([new Date(e.created_at).toISOString().replace('T', ' ').slice(0, 19), e.type, details(e.data)]),
      ),
    );
    $('status').textContent = `${events.data.length} entries.`;
  } catch (err) {
    $('status').textContent = `Could not load the link: ${err.message}`;
  }
}

void show();
