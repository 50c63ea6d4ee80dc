import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/logger';
import { maskContact, maskContactsIn, maskEmail, maskPhone } from '../../src/observability/mask';
import { requestIdFrom, runInRequest } from '../../src/observability/request-context';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)));
      done();
    },
  });
  return { lines, logger: createLogger('info', 'test', { destination }) };
}

describe('masking', () => {
  it('keeps enough to tell customers apart, never enough to reach one', () => {
    expect(maskEmail('alice@example.com')).toBe('a•••@example.com');
    expect(maskPhone('+15551234567')).toBe('+1•••67');
    expect(maskContact('+447700900123')).toBe('+4•••23');
    expect(maskContact('bob@shop.test')).toBe('b•••@shop.test');
    expect(maskEmail('not-an-address')).toBe('•••');
    expect(maskContactsIn('550 mailbox carol@example.org full; sms +15559876543 failed')).toBe(
      '550 mailbox c•••@example.org full; sms +1•••43 failed',
    );
  });
});

describe('the logger', () => {
  it('redacts secrets and masks addresses wherever they sit in a log object', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        headers: { authorization: 'Bearer plk_secret' },
        api_key: 'plk_other',
        customer: { email: 'dana@example.com', phone: '+15550001111' },
        webhook: { secret: 'whsec_1' },
        to: 'erin@example.com',
      },
      'something happened',
    );
    const text = JSON.stringify(lines);
    for (const secret of [
      'plk_secret',
      'plk_other',
      'whsec_1',
      'dana@example.com',
      '+15550001111',
      'erin@example.com',
    ])
      expect(text).not.toContain(secret);
    expect(lines[0]).toMatchObject({
      headers: { authorization: '[redacted]' },
      api_key: '[redacted]',
      customer: { email: 'd•••@example.com', phone: '+1•••11' },
      webhook: { secret: '[redacted]' },
      to: 'e•••@example.com',
    });
  });

  it('stamps every line logged while serving a request with its id', () => {
    const { lines, logger } = capture();
    runInRequest({ requestId: 'req-abc-12345' }, () => logger.warn('inside'));
    logger.warn('outside');
    expect(lines[0]).toMatchObject({ msg: 'inside', request_id: 'req-abc-12345' });
    expect(lines[1]).not.toHaveProperty('request_id');
  });

  it('keeps a sane incoming request id and replaces anything else', () => {
    expect(requestIdFrom('0f8fad5b-d9cb-469f-a165-70867728950e')).toBe(
      '0f8fad5b-d9cb-469f-a165-70867728950e',
    );
    for (const bad of [undefined, '', 'short', 'x'.repeat(129), 'a\nb-forged-line', 'with space here'])
      expect(requestIdFrom(bad)).toMatch(/^req_[0-9a-f]{32}$/);
  });
});
