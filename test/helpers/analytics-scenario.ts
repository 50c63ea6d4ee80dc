/**
 * A known set of links, driven through the real stack (API, worker, sandbox checkout, twilio
 * callbacks), and the analytics figures they must produce, worked out from the plan itself:
 * counting what the scenario did, never by reading the analytics tables.
 */
import twilio from 'twilio';
import { expect } from 'vitest';
import { createLinkStore } from '../../src/links/link-store';
import { PUBLIC_BASE_URL, type Stack } from './stack';
import { eventually, WAIT_MS } from './temporal';

type Channel = 'email' | 'sms';
type Attempt = 'succeed' | 'decline';

export interface LinkPlan {
  currency: 'USD' | 'EUR';
  amount: number;
  campaign: string | null;
  channels: Channel[];
  /** Times the customer opens the link page. */
  views: number;
  /** Checkout attempts, in order, each from pressing Pay. */
  attempts: Attempt[];
  /** twilio reports the link's SMS delivered. */
  smsDelivered?: boolean;
  end: 'paid' | 'cancelled' | 'expired' | 'active';
}

/** Eight links over two currencies, two channels (and none), two campaigns (and none). */
export const PLAN: LinkPlan[] = [
  {
    currency: 'USD',
    amount: 1200,
    campaign: 'spring',
    channels: ['email'],
    views: 2,
    attempts: ['succeed'],
    end: 'paid',
  },
  {
    currency: 'USD',
    amount: 3400,
    campaign: 'spring',
    channels: ['sms'],
    views: 1,
    attempts: ['decline', 'succeed'],
    smsDelivered: true,
    end: 'paid',
  },
  {
    currency: 'USD',
    amount: 500,
    campaign: 'autumn',
    channels: ['email', 'sms'],
    views: 1,
    attempts: [],
    end: 'cancelled',
  },
  {
    currency: 'EUR',
    amount: 2000,
    campaign: 'autumn',
    channels: ['email'],
    views: 1,
    attempts: ['succeed'],
    end: 'paid',
  },
  { currency: 'EUR', amount: 900, campaign: null, channels: [], views: 0, attempts: [], end: 'expired' },
  {
    currency: 'EUR',
    amount: 700,
    campaign: null,
    channels: [],
    views: 3,
    attempts: ['decline'],
    end: 'active',
  },
  {
    currency: 'USD',
    amount: 800,
    campaign: null,
    channels: ['sms'],
    views: 0,
    attempts: [],
    smsDelivered: true,
    end: 'active',
  },
  {
    currency: 'EUR',
    amount: 4100,
    campaign: 'spring',
    channels: ['email', 'sms'],
    views: 1,
    attempts: ['succeed'],
    end: 'paid',
  },
];

export interface CreatedLink {
  plan: LinkPlan;
  id: string;
  path: string;
  createdAt: string;
  /** Seconds from the first send to paid, read from the link's own timeline. */
  secondsToPay: number | null;
}

let seq = 0;

/**
 * Runs the plan on the stack for an account (the stack's own by default); returns each link with
 * what its timeline says. Waits read Postgres, not the API: polling would spend the account's
 * request budget.
 */
export async function runPlan(
  stack: Stack,
  plan: LinkPlan[],
  account: { accountId: string; apiKey: string } = stack.account,
): Promise<CreatedLink[]> {
  const key = account.apiKey;
  const store = createLinkStore(stack.db);
  const links = await Promise.all(
    plan.map(async (p) => {
      seq += 1;
      const phone = `+1415556${String(1000 + seq).padStart(4, '0')}`;
      const r = await stack.request('POST', '/v1/payment_links', {
        key,
        json: {
          amount: p.amount,
          currency: p.currency,
          description: `Analytics ${seq}`,
          customer: { email: `analytics${seq}@example.com`, phone },
          channels: p.channels,
          ...(p.campaign ? { campaign_id: p.campaign } : {}),
          ...(p.end === 'expired' ? { expires_in: 'PT3S' } : {}),
        },
      });
      expect(r.status).toBe(201);
      return { plan: p, id: r.body.id as string, path: new URL(r.body.url).pathname, phone };
    }),
  );

  const untilEvents = (id: string, type: string, count: number) =>
    eventually(
      async () => {
        const found = (await store.listEvents(account.accountId, id)).filter((e) => e.type === type);
        return found.length >= count ? found : undefined;
      },
      WAIT_MS,
      `${count} ${type} on ${id}`,
    );

  for (const link of links) {
    const { plan: p } = link;
    if (p.channels.length > 0) await untilEvents(link.id, 'payment_link.sent', p.channels.length);
    if (p.smsDelivered) await reportSmsDelivered(stack, link.phone);
    for (let i = 0; i < p.views; i++) expect((await fetch(`${stack.baseUrl}${link.path}`)).status).toBe(200);
    for (const outcome of p.attempts) {
      const pay = await stack.postForm(`${link.path}/pay`, {});
      expect(pay.status).toBe(303);
      const checkout = pay.headers.get('location') as string;
      expect((await stack.postForm(checkout, { outcome })).status).toBe(303);
      if (outcome === 'decline')
        await untilEvents(
          link.id,
          'payment_session.failed',
          p.attempts.filter((a) => a === 'decline').length,
        );
    }
    if (p.end === 'cancelled')
      expect(
        (await stack.request('POST', `/v1/payment_links/${link.id}/cancel`, { key, json: {} })).status,
      ).toBe(200);
    if (p.end !== 'active')
      await eventually(
        async () => ((await store.findLink(account.accountId, link.id))?.status === p.end ? true : undefined),
        WAIT_MS,
        `${link.id} to be ${p.end}`,
      );
  }

  return Promise.all(
    links.map(async (link) => {
      // The timeline as the API shows it (milliseconds), as an operator would read it.
      const timeline = (await stack.request('GET', `/v1/payment_links/${link.id}/events`, { key })).body
        .data as { type: string; created_at: string }[];
      const sentAt = timeline
        .filter((e) => e.type === 'payment_link.sent')
        .map((e) => Date.parse(e.created_at));
      const paid = timeline.find((e) => e.type === 'payment_link.paid');
      const created = timeline.find((e) => e.type === 'payment_link.created');
      return {
        plan: link.plan,
        id: link.id,
        path: link.path,
        createdAt: created?.created_at as string,
        secondsToPay:
          sentAt.length > 0 && paid ? (Date.parse(paid.created_at) - Math.min(...sentAt)) / 1000 : null,
      };
    }),
  );
}

/** twilio's signed "delivered" report for the first message sent to `phone`. */
async function reportSmsDelivered(stack: Stack, phone: string) {
  const sms = await eventually(
    async () => stack.peers.twilio.messages.find((m) => m.to === phone),
    WAIT_MS,
    `an SMS to ${phone}`,
  );
  const callbackUrl = `${PUBLIC_BASE_URL}/v1/callbacks/twilio/status`;
  const params = {
    MessageSid: sms.sid,
    MessageStatus: 'delivered',
    AccountSid: stack.peers.twilio.accountSid,
    To: phone,
  };
  const signature = twilio.getExpectedTwilioSignature(stack.twilioAuthToken as string, callbackUrl, params);
  const res = await fetch(`${stack.baseUrl}/v1/callbacks/twilio/status`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(params).toString(),
  });
  expect(res.status).toBe(204);
}

/** Linear interpolation between closest ranks, as the API documents its percentiles. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = p * (sorted.length - 1);
  const low = Math.floor(rank);
  const high = Math.ceil(rank);
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (rank - low);
}

const mondayOf = (day: string) => {
  const d = new Date(`${day}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
};

export type GroupBy = 'day' | 'week' | 'channel' | 'campaign' | 'currency';

/** The figures each group must show, counted from the plan (and times from the timelines). */
export function expectedFigures(links: CreatedLink[], groupBy: GroupBy) {
  const members = new Map<string | null, { link: CreatedLink; channel?: Channel }[]>();
  const add = (key: string | null, entry: { link: CreatedLink; channel?: Channel }) =>
    members.set(key, [...(members.get(key) ?? []), entry]);
  for (const link of links) {
    const day = link.createdAt.slice(0, 10);
    if (groupBy === 'day') add(day, { link });
    else if (groupBy === 'week') add(mondayOf(day), { link });
    else if (groupBy === 'currency') add(link.plan.currency, { link });
    else if (groupBy === 'campaign') add(link.plan.campaign, { link });
    else if (link.plan.channels.length === 0) add(null, { link });
    else for (const channel of link.plan.channels) add(channel, { link, channel });
  }
  const keys = [...members.keys()].sort((a, b) => (a === null ? 1 : b === null ? -1 : a.localeCompare(b)));
  return keys.map((key) => {
    const group = members.get(key) ?? [];
    const plans = group.map((m) => m.link.plan);
    const count = (pred: (p: LinkPlan, channel?: Channel) => boolean) =>
      group.filter((m) => pred(m.link.plan, m.channel)).length;
    const sum = (f: (p: LinkPlan) => number) => plans.reduce((n, p) => n + f(p), 0);
    const created = plans.length;
    const paid = count((p) => p.end === 'paid');
    const viewed = count((p) => p.views > 0);
    const sessions = sum((p) => p.attempts.length);
    const succeeded = sum((p) => p.attempts.filter((a) => a === 'succeed').length);
    const amounts: Record<string, number> = {};
    for (const p of plans) if (p.end === 'paid') amounts[p.currency] = (amounts[p.currency] ?? 0) + p.amount;
    const times = group.flatMap((m) => (m.link.secondsToPay === null ? [] : [m.link.secondsToPay]));
    return {
      key,
      links_created: created,
      links_sent: count((p, channel) => (channel ? p.channels.includes(channel) : p.channels.length > 0)),
      links_delivered: count((p, channel) => p.smsDelivered === true && (channel ?? 'sms') === 'sms'),
      links_viewed: viewed,
      sessions_started: sessions,
      payments_succeeded: succeeded,
      payments_failed: sum((p) => p.attempts.filter((a) => a === 'decline').length),
      links_paid: paid,
      links_expired: count((p) => p.end === 'expired'),
      links_cancelled: count((p) => p.end === 'cancelled'),
      completion_rate: created === 0 ? null : paid / created,
      conversion_rate: viewed === 0 ? null : paid / viewed,
      payment_success_rate: sessions === 0 ? null : succeeded / sessions,
      median_seconds_to_pay: percentile(times, 0.5),
      p90_seconds_to_pay: percentile(times, 0.9),
      amount_collected: amounts,
    };
  });
}
