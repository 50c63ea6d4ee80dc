import { describe, expect, it } from 'vitest';
import {
  campaignLinkId,
  fillPlaceholders,
  recipientLinkBody,
  singleLinkBody,
} from '../../src/campaigns/recipient-link';
import { creationRate } from '../../src/campaigns/throttle';
import { isIdShaped } from '../../src/ids';

const recipient = {
  name: 'Ada',
  email: 'ada@example.com',
  phone: null,
  locale: 'fr-FR',
  timezone: 'Europe/Paris',
  amount: null,
  reference: 'INV-7',
  metadata: { plan: 'gold' },
};

describe('campaign link ids', () => {
  it('are the same for the same recipient, different otherwise, and shaped like link ids', () => {
    expect(campaignLinkId('cmp_a', 1)).toBe(campaignLinkId('cmp_a', 1));
    expect(campaignLinkId('cmp_a', 1)).not.toBe(campaignLinkId('cmp_a', 2));
    expect(campaignLinkId('cmp_a', 1)).not.toBe(campaignLinkId('cmp_b', 1));
    expect(isIdShaped('plink', campaignLinkId('cmp_a', 1))).toBe(true);
  });
});

describe('recipient links', () => {
  it('fills the placeholders; unknown values become empty', () => {
    expect(
      fillPlaceholders(
        'Hi {name}: {amount} for {reference} ({metadata.plan}{metadata.x})',
        recipient,
        1250,
        'EUR',
      ),
    ).toBe('Hi Ada: 12,50\u00a0€ for INV-7 (gold)');
  });

  it('builds the create request: recipient amount over the template, merged metadata, campaign id', () => {
    const built = recipientLinkBody(
      {
        amount: 500,
        currency: 'EUR',
        description: 'Dear {name}',
        channels: ['email', 'sms'],
        metadata: { source: 'campaign', plan: 'basic' },
        reference: 'ignored',
      },
      { ...recipient, amount: 900 },
      'cmp_x',
    );
    expect(built.ok).toBe(true);
    if (!built.ok) return;
    expect(built.body).toMatchObject({
      amount: 900,
      currency: 'EUR',
      description: 'Dear Ada',
      // No phone: reached by email only.
      channels: ['email'],
      reference: 'INV-7',
      metadata: { source: 'campaign', plan: 'gold' },
      campaign_id: 'cmp_x',
      customer: { name: 'Ada', email: 'ada@example.com', locale: 'fr-FR', timezone: 'Europe/Paris' },
    });
  });

  it('refuses a recipient no channel of the template reaches, or without an amount', () => {
    const sms = recipientLinkBody({ amount: 500, currency: 'EUR', channels: ['sms'] }, recipient, 'cmp_x');
    expect(sms).toEqual({ ok: false, error: expect.stringContaining('no address for sms') });
    const noAmount = recipientLinkBody({ currency: 'EUR' }, recipient, 'cmp_x');
    expect(noAmount.ok).toBe(false);
  });

  it('makes a single link multi-use and sent to nobody', () => {
    const built = singleLinkBody(
      { amount: 500, currency: 'EUR', channels: ['email'], max_payments: 1 },
      'cmp_x',
    );
    expect(built).toMatchObject({
      ok: true,
      body: { max_payments: null, channels: [], campaign_id: 'cmp_x' },
    });
  });
});

describe('creation rate', () => {
  it('is the smallest of the link rate and the rates of the channels the template uses', () => {
    expect(
      creationRate({ links_per_second: 10, email_per_second: 4, sms_per_second: 1 }, ['email'], 20),
    ).toBe(4);
    expect(
      creationRate({ links_per_second: 10, email_per_second: 4, sms_per_second: 1 }, ['email', 'sms'], 20),
    ).toBe(1);
    expect(creationRate({ links_per_second: 3, sms_per_second: 1 }, ['email'], 20)).toBe(3);
    expect(creationRate({}, ['email'], 20)).toBe(20);
    expect(creationRate(null, [], 20)).toBe(20);
  });
});
