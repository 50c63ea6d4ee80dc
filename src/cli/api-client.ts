/**
 * How the operator CLI talks to Paylinks: over the HTTP API as any client does, with an account's
 * key (PAYLINKS_API_URL, PAYLINKS_API_KEY). Every failure an operator can cause or fix becomes a
 * CliError, which the command prints as one line before exiting non-zero.
 */
import type { Command } from 'commander';
import type { Config } from '../config';

export class CliError extends Error {}

/** The API refused the request (4xx/5xx): its status and the error body's code and field. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly detail: string,
    readonly param: string | undefined,
  ) {
    super(`${status} ${code}: ${detail}${param ? ` (${param})` : ''}`);
  }
}

interface ApiErrorBody {
  error?: { code?: string; message?: string; param?: string };
}

/** A request body: JSON, or a stream of bytes of the given content type (sent without buffering). */
export type ApiBody = { json: unknown } | { stream: ReadableStream<Uint8Array>; contentType: string };

/** One API call with the operator's key; an API error becomes an ApiError. */
export async function callApi<T>(config: Config, method: string, path: string, body?: ApiBody): Promise<T> {
  if (!config.cli.apiKey) throw new CliError('PAYLINKS_API_KEY is not set (an API key of the account)');
  const headers: Record<string, string> = { authorization: `Bearer ${config.cli.apiKey}` };
  let payload: string | ReadableStream<Uint8Array> | undefined;
  if (body && 'json' in body) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body.json);
  } else if (body) {
    headers['content-type'] = body.contentType;
    payload = body.stream;
  }
  let res: Response;
  try {
    res = await fetch(`${config.cli.apiUrl}${path}`, {
      method,
      headers,
      body: payload,
      // A stream goes out as it is read (chunked), not first gathered in memory.
      ...(payload instanceof ReadableStream ? { duplex: 'half' } : {}),
    } as RequestInit);
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause;
    throw new CliError(
      `cannot reach the API at ${config.cli.apiUrl} (${cause?.message ?? (err as Error).message})`,
    );
  }
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const e = (json as ApiErrorBody | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? 'error', oneLine(e?.message ?? text), e?.param);
  }
  if (text && json === undefined) throw new CliError(`${method} ${path}: the API answered non-JSON`);
  return json as T;
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim().slice(0, 500);

/** `program.error` for operator mistakes and API refusals; anything else is a bug and throws. */
export function action<A extends unknown[]>(program: Command, run: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    try {
      await run(...args);
    } catch (err) {
      if (err instanceof CliError) program.error(err.message);
      throw err;
    }
  };
}

export const print = (json: boolean | undefined, value: unknown, text: () => string) =>
  console.log(json ? JSON.stringify(value, null, 2) : text());
