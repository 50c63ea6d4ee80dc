/**
 * Encrypts every payload Temporal stores for Paylinks (workflow inputs and results, activity
 * arguments and results, signals, updates, queries, memo, encoded failure attributes) with
 * AES-256-GCM, so that customer names, emails, phone numbers and link tokens never sit in clear
 * in Temporal's history, database or UI.
 *
 * Keys come from PAYLOAD_CODEC_KEYS (`keyid:base64key,...`, the first one current). Rotation:
 * put a new key first and keep the old ones; new payloads use the new key, old histories still
 * decode with the old.
 *
 * A payload that is not encrypted is refused on decode. Encryption is also what authenticates a
 * payload (AES-GCM): anyone who can reach the Temporal frontend can write a plaintext one, and a
 * worker that took it would, say, record a `paymentReceived` nobody paid. The workflow task that
 * carries it fails (the link stays as it was, stuck on that task until an operator resets the
 * workflow to before the forged event). Reading plaintext is kept for what only reads, explicitly
 * (`plaintext: 'pass'`): replaying the histories recorded before the codec, the operators' codec
 * endpoint and history view, and workers of a deployment that still runs links started before
 * it (PAYLOAD_CODEC_ACCEPT_PLAINTEXT, off by default).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  type DataConverter,
  defaultPayloadConverter,
  METADATA_ENCODING_KEY,
  type Payload,
  type PayloadCodec,
  ValueError,
} from '@temporalio/common';
import proto from '@temporalio/proto';

/** The encoding Temporal's samples and UI use for an encrypted payload. */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const METADATA_KEY_ID = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const KEY_ID = /^[A-Za-z0-9._-]{1,64}$/;
// A CommonJS module: Node's ESM loader sees only its default export.
const ProtoPayload = proto.temporal.api.common.v1.Payload;

export interface CodecKey {
  id: string;
  /** 32 bytes. Never logged. */
  key: Buffer;
}

/** A configured key set: `current` encrypts, every key (current included) decrypts. */
export interface CodecKeys {
  current: CodecKey;
  all: CodecKey[];
}

export class CodecKeysError extends Error {
  override name = 'CodecKeysError';
}

/**
 * Parses `keyid:base64key[,keyid:base64key…]`. Errors name the key id or position, never the
 * key material.
 */
export function parseCodecKeys(spec: string): CodecKeys {
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new CodecKeysError('expected at least one "keyid:base64key"');
  const all: CodecKey[] = entries.map((entry, i) => {
    const colon = entry.indexOf(':');
    if (colon < 0) throw new CodecKeysError(`entry ${i + 1} is not "keyid:base64key"`);
    const id = entry.slice(0, colon);
    const material = entry.slice(colon + 1);
    if (!KEY_ID.test(id)) {
      throw new CodecKeysError(`entry ${i + 1}: key id must be 1-64 characters of A-Z a-z 0-9 . _ -`);
    }
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(material)) {
      throw new CodecKeysError(`key "${id}" is not base64`);
    }
    const key = Buffer.from(material, 'base64');
    if (key.length !== KEY_BYTES) {
      throw new CodecKeysError(`key "${id}" must be ${KEY_BYTES} bytes, base64-encoded (got ${key.length})`);
    }
    return { id, key };
  });
  const seen = new Set<string>();
  for (const { id } of all) {
    if (seen.has(id)) throw new CodecKeysError(`key id "${id}" appears twice`);
    seen.add(id);
  }
  return { current: all[0] as CodecKey, all };
}

/** Why a payload could not be decrypted; the message says which key id and what to do. */
export class PayloadDecryptionError extends ValueError {
  override name = 'PayloadDecryptionError';
}

const text = (bytes: Uint8Array | null | undefined): string | undefined =>
  bytes ? Buffer.from(bytes).toString('utf8') : undefined;

export interface CodecOptions {
  /**
   * A payload that is not encrypted, on decode: `refuse` (the default: the worker and every
   * client) or `pass` it through as it is (reading legacy histories only; see the module comment).
   */
  plaintext?: 'refuse' | 'pass';
}

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;
  private readonly current: CodecKey;
  private readonly passPlaintext: boolean;

  constructor(keys: CodecKeys, options: CodecOptions = {}) {
    this.current = keys.current;
    this.byId = new Map(keys.all.map((k) => [k.id, k.key]));
    this.passPlaintext = options.plaintext === 'pass';
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.encrypt(p));
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((p) => this.decrypt(p));
  }

  /** The whole payload (metadata and data) is sealed; the key id is bound as associated data. */
  encrypt(payload: Payload): Payload {
    const { id, key } = this.current;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(id, 'utf8'));
    const plain = ProtoPayload.encode(payload).finish();
    const sealed = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
    return {
      metadata: {
        [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING),
        [METADATA_KEY_ID]: Buffer.from(id),
      },
      data: sealed,
    };
  }

  decrypt(payload: Payload): Payload {
    const encoding = text(payload.metadata?.[METADATA_ENCODING_KEY]);
    if (encoding !== ENCRYPTED_ENCODING) {
      // Written before the codec existed, or by a client without it (forged, perhaps).
      if (this.passPlaintext) return payload;
      throw new PayloadDecryptionError(
        `payload is not encrypted (encoding ${JSON.stringify(encoding ?? null)}): refused, since anyone who reaches Temporal can write one; only a client with PAYLOAD_CODEC_KEYS may send to Paylinks' workflows`,
      );
    }
    const id = text(payload.metadata?.[METADATA_KEY_ID]);
    if (!id) throw new PayloadDecryptionError('encrypted payload has no encryption-key-id metadata');
    const key = this.byId.get(id);
    if (!key) {
      throw new PayloadDecryptionError(
        `payload was encrypted with key id "${id}", which is not in PAYLOAD_CODEC_KEYS (configured: ${[
          ...this.byId.keys(),
        ].join(', ')}); keep retired keys configured until no history needs them`,
      );
    }
    const data = Buffer.from(payload.data ?? []);
    if (data.length < IV_BYTES + TAG_BYTES) {
      throw new PayloadDecryptionError(`encrypted payload (key id "${id}") is truncated`);
    }
    const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(Buffer.from(id, 'utf8'));
    decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
    let plain: Buffer;
    try {
      plain = Buffer.concat([
        decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)),
        decipher.final(),
      ]);
    } catch {
      throw new PayloadDecryptionError(
        `encrypted payload (key id "${id}") failed authentication: it was altered, or the key under that id changed`,
      );
    }
    return ProtoPayload.decode(plain);
  }
}

/**
 * The failure converter that puts messages and stack traces in encoded attributes, where the
 * codec encrypts them. Workers bundle it into the workflow code (a prebuilt bundle must be built
 * with it: `bundleWorkflowCode({ failureConverterPath })`).
 */
export const FAILURE_CONVERTER_PATH = fileURLToPath(new URL('./failure-converter.cjs', import.meta.url));

/** The data converter for the worker and every client (API, CLI, tests): plaintext refused. */
export function payloadDataConverter(keys: CodecKeys, options: CodecOptions = {}): DataConverter {
  return {
    payloadCodecs: [new AesGcmPayloadCodec(keys, options)],
    failureConverterPath: FAILURE_CONVERTER_PATH,
  };
}

/**
 * The data converter that also reads payloads from before the codec, as they are: for replaying
 * and reading histories recorded before it (never for a worker taking new work, unless
 * PAYLOAD_CODEC_ACCEPT_PLAINTEXT says the deployment still runs such links).
 */
export function legacyPlaintextDataConverter(keys: CodecKeys): DataConverter {
  return payloadDataConverter(keys, { plaintext: 'pass' });
}

/**
 * Puts back, in place, the message and stack trace that the failure converter moved into each
 * failure's encrypted encoded attributes, anywhere in a raw history (for tools that read one).
 */
export async function revealEncodedFailures(value: unknown, codecs: PayloadCodec[]): Promise<void> {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return;
  const record = value as Record<string, unknown>;
  const encoded = record.encodedAttributes as Payload | null | undefined;
  if (encoded && typeof encoded === 'object' && 'metadata' in encoded) {
    let [payload] = [encoded];
    for (const codec of [...codecs].reverse()) [payload] = (await codec.decode([payload])) as [Payload];
    const attrs = defaultPayloadConverter.fromPayload<{ message?: string; stack_trace?: string }>(payload);
    if (attrs?.message !== undefined) record.message = attrs.message;
    if (attrs?.stack_trace !== undefined) record.stackTrace = attrs.stack_trace;
  }
  for (const [k, v] of Object.entries(record))
    if (k !== 'encodedAttributes') await revealEncodedFailures(v, codecs);
}
