import { defaultPayloadConverter, METADATA_ENCODING_KEY, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config';
import {
  AesGcmPayloadCodec,
  CodecKeysError,
  ENCRYPTED_ENCODING,
  METADATA_KEY_ID,
  PayloadDecryptionError,
  parseCodecKeys,
} from '../../src/temporal/payload-codec';
import { SearchAttributes } from '../../workflows/payment-link/contract';

const key = (fill: string) => Buffer.alloc(32, fill).toString('base64');
const K1 = parseCodecKeys(`k1:${key('one')}`);
const K2_K1 = parseCodecKeys(`k2:${key('two')},k1:${key('one')}`);
const K2 = parseCodecKeys(`k2:${key('two')}`);

const customer = { name: 'Ada Lovelace', email: 'ada@example.com', phone: '+14155550123' };
const plain = (): Payload => defaultPayloadConverter.toPayload({ customer, token: 'tok_secret_123' });
const str = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString('latin1');

describe('payload codec', () => {
  it('encrypts the whole payload under the current key id and decrypts it back', async () => {
    const codec = new AesGcmPayloadCodec(K1);
    const [encrypted] = await codec.encode([plain()]);
    expect(str(encrypted?.metadata?.[METADATA_ENCODING_KEY])).toBe(ENCRYPTED_ENCODING);
    expect(str(encrypted?.metadata?.[METADATA_KEY_ID])).toBe('k1');
    for (const secret of [
      'ada@example.com',
      'Ada Lovelace',
      '+14155550123',
      'tok_secret_123',
      'json/plain',
    ]) {
      expect(str(encrypted?.data)).not.toContain(secret);
    }
    const [decrypted] = await codec.decode([encrypted as Payload]);
    expect(defaultPayloadConverter.fromPayload(decrypted as Payload)).toEqual({
      customer,
      token: 'tok_secret_123',
    });
  });

  it('uses a fresh nonce per payload', async () => {
    const codec = new AesGcmPayloadCodec(K1);
    const [a, b] = await codec.encode([plain(), plain()]);
    expect(str(a?.data)).not.toBe(str(b?.data));
  });

  it('refuses a payload that is not encrypted: anyone who reaches Temporal can write one', async () => {
    const codec = new AesGcmPayloadCodec(K1);
    await expect(codec.decode([plain()])).rejects.toThrow(PayloadDecryptionError);
    await expect(codec.decode([plain()])).rejects.toThrow(
      /payload is not encrypted \(encoding "json\/plain"\): refused/,
    );
    // Nor does one plaintext payload among encrypted ones get through.
    const [sealed] = (await codec.encode([plain()])) as [Payload];
    await expect(codec.decode([sealed, plain()])).rejects.toThrow(/not encrypted/);
    await expect(codec.decode([{ metadata: {}, data: Buffer.from('{}') }])).rejects.toThrow(/encoding null/);
  });

  it('passes it through only when told to (reading histories from before the codec)', async () => {
    const legacy = new AesGcmPayloadCodec(K1, { plaintext: 'pass' });
    const p = plain();
    expect(await legacy.decode([p])).toEqual([p]);
    // Encrypted payloads are still checked: a tampered one is refused all the same.
    const [sealed] = (await legacy.encode([plain()])) as [Payload];
    const data = Buffer.from(sealed.data as Uint8Array);
    data[20] = (data[20] as number) ^ 0x01;
    await expect(legacy.decode([{ ...sealed, data }])).rejects.toThrow(/failed authentication/);
  });

  it('refuses a tampered payload', async () => {
    const codec = new AesGcmPayloadCodec(K1);
    const [encrypted] = (await codec.encode([plain()])) as [Payload];
    const data = Buffer.from(encrypted.data as Uint8Array);
    data[20] = (data[20] as number) ^ 0x01;
    await expect(codec.decode([{ ...encrypted, data }])).rejects.toThrow(
      /key id "k1"\) failed authentication/,
    );
    await expect(codec.decode([{ ...encrypted, data: data.subarray(0, 10) }])).rejects.toThrow(/truncated/);
  });

  it('binds the key id: relabelling a payload with another configured key id fails', async () => {
    const [encrypted] = (await new AesGcmPayloadCodec(K2_K1).encode([plain()])) as [Payload];
    const relabelled = {
      ...encrypted,
      metadata: { ...encrypted.metadata, [METADATA_KEY_ID]: Buffer.from('k1') },
    };
    await expect(new AesGcmPayloadCodec(K2_K1).decode([relabelled])).rejects.toBeInstanceOf(
      PayloadDecryptionError,
    );
  });

  it('names an unknown key id and the configured ones', async () => {
    const [encrypted] = (await new AesGcmPayloadCodec(K1).encode([plain()])) as [Payload];
    await expect(new AesGcmPayloadCodec(K2).decode([encrypted])).rejects.toThrow(
      'payload was encrypted with key id "k1", which is not in PAYLOAD_CODEC_KEYS (configured: k2)',
    );
  });

  it('rotates: the new first key encrypts, the old one still decrypts', async () => {
    const [old] = (await new AesGcmPayloadCodec(K1).encode([plain()])) as [Payload];
    const rotated = new AesGcmPayloadCodec(K2_K1);
    const [fresh] = (await rotated.encode([plain()])) as [Payload];
    expect(str(fresh.metadata?.[METADATA_KEY_ID])).toBe('k2');
    const decoded = await rotated.decode([old, fresh]);
    expect(decoded.map((p) => defaultPayloadConverter.fromPayload(p))).toEqual([
      { customer, token: 'tok_secret_123' },
      { customer, token: 'tok_secret_123' },
    ]);
  });
});

describe('PAYLOAD_CODEC_KEYS', () => {
  const material = key('secret-material');
  it.each([
    ['', /at least one/],
    [material, /entry 1 is not "keyid:base64key"/],
    [`k1:${Buffer.alloc(16).toString('base64')}`, /key "k1" must be 32 bytes, base64-encoded \(got 16\)/],
    [`k1:not base64!`, /key "k1" is not base64/],
    [`k 1:${material}`, /entry 1: key id must be/],
    [`k1:${material},k1:${material}`, /key id "k1" appears twice/],
  ])('refuses %j with a clear error that never shows the key', (spec, message) => {
    let error: unknown;
    try {
      parseCodecKeys(spec);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(CodecKeysError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).not.toContain(material);
  });

  it('is validated by the configuration schema', () => {
    const bad = `k1:${Buffer.alloc(31).toString('base64')}`;
    expect(() => loadConfig({ PAYLOAD_CODEC_KEYS: bad })).toThrow(ConfigError);
    expect(() => loadConfig({ PAYLOAD_CODEC_KEYS: bad })).toThrow(
      /PAYLOAD_CODEC_KEYS: key "k1" must be 32 bytes/,
    );
    const config = loadConfig({ PAYLOAD_CODEC_KEYS: `k2:${key('two')}, k1:${key('one')}` });
    expect(config.payloadCodec.keys.current.id).toBe('k2');
    expect(config.payloadCodec.keys.all.map((k) => k.id)).toEqual(['k2', 'k1']);
  });

  it('has a development key, and production refuses to start without its own', () => {
    expect(loadConfig({}).payloadCodec).toMatchObject({
      keys: { current: { id: 'dev' } },
      developmentKey: true,
    });
    expect(loadConfig({ PAYLOAD_CODEC_KEYS: `k1:${key('one')}` }).payloadCodec.developmentKey).toBe(false);
    expect(() =>
      loadConfig({ NODE_ENV: 'production', SECRETS_KEY: key('s'), PUBLIC_BASE_URL: 'https://pay.example' }),
    ).toThrow(/PAYLOAD_CODEC_KEYS is required when NODE_ENV=production/);
  });

  it('refuses plaintext unless PAYLOAD_CODEC_ACCEPT_PLAINTEXT=true', () => {
    expect(loadConfig({}).payloadCodec.plaintext).toBe('refuse');
    expect(loadConfig({ PAYLOAD_CODEC_ACCEPT_PLAINTEXT: 'false' }).payloadCodec.plaintext).toBe('refuse');
    expect(loadConfig({ PAYLOAD_CODEC_ACCEPT_PLAINTEXT: 'true' }).payloadCodec.plaintext).toBe('pass');
    expect(() => loadConfig({ PAYLOAD_CODEC_ACCEPT_PLAINTEXT: 'yes' })).toThrow(
      /PAYLOAD_CODEC_ACCEPT_PLAINTEXT/,
    );
  });

  it('refuses a short CODEC_AUTH_TOKEN', () => {
    expect(() => loadConfig({ CODEC_AUTH_TOKEN: 'short' })).toThrow(/CODEC_AUTH_TOKEN: must be at least 32/);
  });
});

describe('search attributes', () => {
  it('carry ids and the status only, nothing personal', () => {
    expect(Object.values(SearchAttributes).map((k) => k.name)).toEqual([
      'LinkStatus',
      'AccountId',
      'CustomerId',
      'InvoiceId',
      'CampaignId',
      'OrderId',
      // The merchant's own reference (an order number); README asks merchants to keep it free of personal data.
      'Reference',
    ]);
  });
});
