/**
 * The sandbox payment provider marks links paid on a signed callback, so it is a way in unless
 * its secret is secret. Only the all-in-one development command (`npm start`, NODE_ENV
 * development) turns it on by itself, with a secret drawn at start-up; every other role and
 * environment needs SANDBOX_ENABLED=true and a strong SANDBOX_SECRET of its own.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';

export const SANDBOX_SECRET_MIN_BYTES = 32;

/** Also refuses a long but patterned secret ("00…", "abab…"): 32 random bytes have ~30 distinct values. */
const MIN_DISTINCT_BYTES = 16;

export const SANDBOX_SECRET_HINT = `at least ${SANDBOX_SECRET_MIN_BYTES} random bytes, hex-encoded (openssl rand -hex ${SANDBOX_SECRET_MIN_BYTES})`;

/** Why a SANDBOX_SECRET is too weak to sign callbacks, or undefined when it is strong enough. */
export function sandboxSecretWeakness(secret: string): string | undefined {
  if (!/^(?:[0-9a-fA-F]{2})+$/.test(secret)) return `must be ${SANDBOX_SECRET_HINT}; it is not hex`;
  const bytes = Buffer.from(secret, 'hex');
  if (bytes.length < SANDBOX_SECRET_MIN_BYTES)
    return `must be ${SANDBOX_SECRET_HINT}; it decodes to ${bytes.length} bytes`;
  if (new Set(bytes).size < MIN_DISTINCT_BYTES)
    return `must be ${SANDBOX_SECRET_HINT}; it does not look random`;
  return undefined;
}

export const sandboxEnv = {
  /** Turns the sandbox provider on (true) or off (false); unset: on only under `npm start` in development. */
  SANDBOX_ENABLED: z.enum(['true', 'false']).optional(),
  /** Signs the sandbox provider's callbacks: hex, at least 32 random bytes. */
  SANDBOX_SECRET: z
    .string()
    .superRefine((secret, ctx) => {
      const weakness = sandboxSecretWeakness(secret);
      if (weakness) ctx.addIssue({ code: 'custom', message: weakness });
    })
    .optional(),
};

export interface SandboxSettings {
  SANDBOX_ENABLED?: 'true' | 'false';
  SANDBOX_SECRET?: string;
}

/**
 * The sandbox secret to use, or undefined when the sandbox is off. `devDefaults`: the all-in-one
 * development command, which alone may turn the sandbox on without being asked.
 * Returns a problem (naming the setting) instead of a secret when the configuration is refused.
 */
export function resolveSandboxSecret(
  e: SandboxSettings,
  devDefaults: boolean,
): { secret: string | undefined } | { problem: string } {
  const enabled = e.SANDBOX_ENABLED === undefined ? devDefaults : e.SANDBOX_ENABLED === 'true';
  if (!enabled) {
    if (e.SANDBOX_SECRET !== undefined && e.SANDBOX_ENABLED === undefined)
      // A secret alone used to switch the sandbox on; say so rather than silently turn it off.
      return {
        problem:
          'SANDBOX_SECRET is set but SANDBOX_ENABLED is not: set SANDBOX_ENABLED=true to use the sandbox provider, or remove SANDBOX_SECRET',
      };
    return { secret: undefined };
  }
  if (e.SANDBOX_SECRET !== undefined) return { secret: e.SANDBOX_SECRET };
  // Drawn per process: no secret written anywhere can sign a callback to it.
  if (devDefaults) return { secret: randomBytes(SANDBOX_SECRET_MIN_BYTES).toString('hex') };
  return { problem: `SANDBOX_SECRET is required when SANDBOX_ENABLED=true: ${SANDBOX_SECRET_HINT}` };
}
