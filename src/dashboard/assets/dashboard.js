import { api, apiKey, collected, definitionList, duration, forgetKey, percent, row, saveKey } from './api.js';

const $ = (id) => document.getElementById(id);
const DAY_MS = 86_400_000;
const isoDay = (date) => date.toISOString().slice(0, 10);
const charts = {};

function showApp(signedIn) {
  $('login').hidden = signedIn;
  $('app').hidden = !signedIn;
  $('sign-out').hidden = !signedIn;
}

/** One chart per canvas, replaced on each refresh; colours with enough contrast on white. */
function draw(id, config) {
  charts[id]?.destroy();
  charts[id] = new window.Chart($(id), {
    ...config,
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      plugins: { legend: { position: 'bottom' } },
      ...config.options,
    },
  });
}

const COLOURS = ['#0b57d0', '#b3261e', '#146c2e', '#7b4f00', '#6a1b9a'];
const series = (label, data, i) => ({ label, data, borderColor: COLOURS[i], backgroundColor: COLOURS[i] });

function sum(groups, field) {
  return groups.reduce((total, g) => total + g[field], 0);
}

function renderDays(days) {
  const labels = days.map((d) => d.key);
  draw('volume-chart', {
    type: 'bar',
    data: {
      labels,
      datasets: [
        series(
          'Created',
          days.map((d) => d.links_created),
          0,
        ),
        series(
          'Sent',
          days.map((d) => d.links_sent),
          1,
        ),
        series(
          'Viewed',
          days.map((d) => d.links_viewed),
          3,
        ),
        series(
          'Paid',
          days.map((d) => d.links_paid),
          2,
        ),
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  draw('rates-chart', {
    type: 'line',
    data: {
      labels,
      datasets: [
        series(
          'Completion (paid ÷ created)',
          days.map((d) => d.completion_rate),
          0,
        ),
        series(
          'Conversion (paid ÷ viewed)',
          days.map((d) => d.conversion_rate),
          2,
        ),
        series(
          'Payment success (succeeded ÷ sessions)',
          days.map((d) => d.payment_success_rate),
          4,
        ),
      ],
    },
    options: { scales: { y: { beginAtZero: true, ticks: { format: { style: 'percent' } } } } },
  });
  $('daily-table').tBodies[0].replaceChildren(
    ...days.map((d) =>
      row([
        d.key,
        d.links_created,
        d.links_sent,
        d.links_delivered,
        d.links_viewed,
        d.sessions_started,
        d.payments_succeeded,
        d.payments_failed,
        d.links_paid,
        d.links_expired,
        d.links_cancelled,
        percent(d.completion_rate),
        duration(d.median_seconds_to_pay),
        collected(d.amount_collected),
      ]),
    ),
  );
}

function renderTotals(currencies) {
  const created = sum(currencies, 'links_created');
  const paid = sum(currencies, 'links_paid');
  const amounts = Object.assign({}, ...currencies.map((c) => c.amount_collected));
  definitionList($('totals'), [
    ['Links created', created, 'total-created'],
    ['Links sent', sum(currencies, 'links_sent'), 'total-sent'],
    ['Links viewed', sum(currencies, 'links_viewed'), 'total-viewed'],
    ['Payment sessions', sum(currencies, 'sessions_started'), 'total-sessions'],
    ['Links paid', paid, 'total-paid'],
    ['Links expired', sum(currencies, 'links_expired'), 'total-expired'],
    ['Links cancelled', sum(currencies, 'links_cancelled'), 'total-cancelled'],
    ['Completion rate', percent(created === 0 ? null : paid / created), 'total-completion'],
    ['Collected', collected(amounts), 'total-collected'],
  ]);
}

function renderCampaigns(campaigns) {
  const name = (c) => c.key ?? '(no campaign)';
  draw('campaign-chart', {
    type: 'bar',
    data: {
      labels: campaigns.map(name),
      datasets: [
        series(
          'Created',
          campaigns.map((c) => c.links_created),
          0,
        ),
        series(
          'Sent',
          campaigns.map((c) => c.links_sent),
          1,
        ),
        series(
          'Viewed',
          campaigns.map((c) => c.links_viewed),
          3,
        ),
        series(
          'Sessions',
          campaigns.map((c) => c.sessions_started),
          4,
        ),
        series(
          'Paid',
          campaigns.map((c) => c.links_paid),
          2,
        ),
      ],
    },
    options: { indexAxis: 'y', scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  $('campaign-table').tBodies[0].replaceChildren(
    ...campaigns.map((c) =>
      row([
        name(c),
        c.links_created,
        c.links_sent,
        c.links_viewed,
        c.sessions_started,
        c.links_paid,
        percent(c.completion_rate),
      ]),
    ),
  );
}

function renderLinks(links) {
  $('links-table').tBodies[0].replaceChildren(
    ...links.map((l) => {
      const a = document.createElement('a');
      a.href = `/dashboard/links/${encodeURIComponent(l.id)}`;
      a.textContent = l.id;
      const status = document.createElement('span');
      status.className = 'status';
      status.textContent = l.status;
      return row([
        a,
        new Date(l.created_at).toISOString().replace('T', ' ').slice(0, 16),
        collected({ [l.currency]: l.amount }),
        status,
        l.campaign_id ?? '–',
      ]);
    }),
  );
}

async function refresh() {
  const from = $('from').value;
  const to = isoDay(new Date(Date.parse($('to').value) + DAY_MS));
  const range = `from=${from}&to=${to}`;
  $('status').textContent = 'Loading…';
  try {
    const [days, currencies, campaigns, links] = await Promise.all([
      api(`/v1/analytics/payment_links?${range}&group_by=day`),
      api(`/v1/analytics/payment_links?${range}&group_by=currency`),
      api(`/v1/analytics/payment_links?${range}&group_by=campaign`),
      api('/v1/payment_links?limit=20'),
    ]);
    renderTotals(currencies.data);
    renderDays(days.data);
    renderCampaigns(campaigns.data);
    renderLinks(links.data);
    $('status').textContent = `Showing ${from} to ${$('to').value} (UTC).`;
  } catch (err) {
    if (err.status === 401) {
      forgetKey();
      showApp(false);
      $('login-error').textContent = 'That API key was refused. Enter a valid key.';
      return;
    }
    $('status').textContent = `Could not load the figures: ${err.message}`;
  }
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const key = $('api-key').value.trim();
  try {
    await api('/v1/payment_links?limit=1', key);
  } catch (err) {
    $('login-error').textContent =
      err.status === 401
        ? 'That API key was refused. Enter a valid key.'
        : `Could not sign in: ${err.message}`;
    return;
  }
  saveKey(key);
  $('api-key').value = '';
  $('login-error').textContent = '';
  showApp(true);
  await refresh();
  $('range-heading').focus?.();
});

$('range-form').addEventListener('submit', (event) => {
  event.preventDefault();
  void refresh();
});

$('sign-out').addEventListener('click', () => {
  forgetKey();
  showApp(false);
  $('api-key').focus();
});

const today = new Date();
$('to').value = isoDay(today);
$('from').value = isoDay(new Date(today.getTime() - 29 * DAY_MS));
if (apiKey()) {
  showApp(true);
  void refresh();
} else showApp(false);
