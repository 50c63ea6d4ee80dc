import { describe, expect, it } from 'vitest';
import { messageIdFor } from '../../src/notifications/email-sender';

describe('messageIdFor', () => {
  it('gives one notification the same Message-ID every time, on the sender domain', () => {
    expect(messageIdFor('ntf_abc', 'Paylinks <payments@shop.example.com>')).toBe(
      '<ntf_abc@shop.example.com>',
    );
    expect(messageIdFor('ntf_abc', 'payments@shop.example.com')).toBe('<ntf_abc@shop.example.com>');
    expect(messageIdFor('ntf_abc', 'Paylinks')).toBe('<ntf_abc@paylinks.invalid>');
  });
});
