/**
 * The codec endpoint the Temporal UI (and `temporal … --codec-endpoint`) calls to show decrypted
 * payloads: POST /codec/decode and /codec/encode with `{"payloads":[{metadata, data}]}`, every
 * field base64 (Temporal's proto JSON).
 *
 * Who may call it: an operator, with CODEC_AUTH_TOKEN as a bearer token. Account API keys are
 * refused on purpose: one key set encrypts every account's payloads, and the endpoint decrypts
 * whatever bytes it is sent without knowing which workflow (or account) they came from, so a
 * merchant's key would open other merchants' customers. Browsers reach it only from the origins
 * in CODEC_CORS_ORIGINS (the Temporal UI).
 *
 * `/codec/t/<token>/decode` carries the token in the path for a UI that cannot send a header
 * (the dev server's UI has no login to pass a token from): whoever can read the UI's settings
 * can then decode, which is the same set of people the UI already shows histories to.
 */
import { timingSafeEqual } from 'node:crypto';
import type { Payload } from '@temporalio/common';
import express, { type RequestHandler, type Router } from 'express';
import { z } from 'zod';
import type { Logger } from '../../logger';
import { AesGcmPayloadCodec, type CodecKeys } from '../../temporal/payload-codec';
import { ApiError } from '../errors';
import { parseBody } from '../validation';

export interface CodecRoutesDeps {
  keys: CodecKeys;
  /** The bearer token operators (and the UI) send. */
  authToken: string;
  /** Browser origins allowed to call (the Temporal UI), exact match. */
  corsOrigins: string[];
}

/** Payloads the UI sends: a page of history can hold many, each up to Temporal's 2 MB limit. */
const BODY_LIMIT = '16mb';
const base64 = z.string().regex(/^[A-Za-z0-9+/_-]*={0,2}$/, 'must be base64');
const CodecBody = z.object({
  // Proto JSON leaves an empty list out: the Temporal CLI sends `{}` for "no payloads".
  payloads: z
    .array(
      z.object({
        metadata: z.record(z.string(), base64).nullish(),
        data: base64.nullish(),
      }),
    )
    .default([]),
});
type JsonPayload = z.infer<typeof CodecBody>['payloads'][number];

const fromJson = ({ metadata, data }: JsonPayload): Payload => ({
  metadata: Object.fromEntries(
    Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')] as const),
  ),
  data: data ? Buffer.from(data, 'base64') : undefined,
});

const toJson = ({ metadata, data }: Payload) => ({
  metadata: Object.fromEntries(
    Object.entries(metadata ?? {}).map(([k, v]) => [k, Buffer.from(v).toString('base64')] as const),
  ),
  data: data ? Buffer.from(data).toString('base64') : '',
});

const unauthorized = (message: string) => new ApiError(401, 'authentication_error', 'unauthorized', message);

function tokenMatches(given: string | undefined, expected: Buffer): boolean {
  if (!given) return false;
  const g = Buffer.from(given, 'utf8');
  return g.length === expected.length && timingSafeEqual(g, expected);
}

export function codecRoutes(deps: CodecRoutesDeps, logger: Logger): Router {
  // Decoding here is for reading (the UI shows histories): a plaintext payload is shown as it is.
  const codec = new AesGcmPayloadCodec(deps.keys, { plaintext: 'pass' });
  const expected = Buffer.from(deps.authToken, 'utf8');
  const router = express.Router({ mergeParams: true });

  const cors: RequestHandler = (req, res, next) => {
    const origin = req.get('origin');
    if (origin && deps.corsOrigins.includes(origin)) {
      res.set('access-control-allow-origin', origin);
      res.set('access-control-allow-credentials', 'true');
      res.set('vary', 'Origin');
    }
    if (req.method === 'OPTIONS') {
      res.set('access-control-allow-methods', 'POST');
      res.set('access-control-allow-headers', 'authorization, content-type, x-namespace');
      res.set('access-control-max-age', '600');
      res.status(204).end();
      return;
    }
    next();
  };

  const requireOperator: RequestHandler = (req, _res, next) => {
    const header = req.get('authorization');
    const bearer = header ? /^Bearer\s+(\S+)$/i.exec(header)?.[1] : undefined;
    const inPath = (req.params as { token?: string }).token;
    if (tokenMatches(bearer ?? inPath, expected)) return next();
    next(
      unauthorized(
        header || inPath
          ? 'Invalid codec token (account API keys cannot decode payloads)'
          : 'Missing codec token: send CODEC_AUTH_TOKEN as "Authorization: Bearer <token>"',
      ),
    );
  };

  const handle =
    (op: 'encode' | 'decode'): RequestHandler =>
    async (req, res, next) => {
      try {
        const body = parseBody(CodecBody, req.body);
        const payloads = body.payloads.map(fromJson);
        const out = op === 'decode' ? await codec.decode(payloads) : await codec.encode(payloads);
        res.json({ payloads: out.map(toJson) });
      } catch (err) {
        if (err instanceof Error && err.name === 'PayloadDecryptionError') {
          next(ApiError.invalid(err.message, 'payloads', 'payload_undecryptable'));
        } else if (err instanceof ApiError) next(err);
        else {
          // Logged here, without the path: the app's handler would log it, token included.
          logger.error({ err, route: `codec/${op}` }, 'codec request failed');
          next(new ApiError(500, 'api_error', 'internal_error', 'An internal error occurred'));
        }
      }
    };

  router.use(cors);
  // Authenticated before the body is read.
  router.use(requireOperator, express.json({ limit: BODY_LIMIT }));
  router.post('/decode', handle('decode'));
  router.post('/encode', handle('encode'));
  return router;
}
