/**
 * Payloads in a Temporal proto message as the server holds it: what the payload codec must have
 * encoded (and what it must not touch).
 */
import type { Payload } from '@temporalio/common';

/** Every Payload the codec wrote in a proto message (search attributes and patch markers are not its to encode). */
export function payloadsIn(value: unknown, found: Payload[] = []): Payload[] {
  if (!value || typeof value !== 'object' || value instanceof Uint8Array) return found;
  const record = value as Record<string, unknown>;
  if (record.metadata && typeof record.metadata === 'object' && 'data' in record) {
    found.push(record as Payload);
    return found;
  }
  // A local activity's marker: the SDK's core writes its bookkeeping (sequence number, attempt,
  // activity type, times) as `data` itself; the activity's result is the codec's.
  if (record.markerName === 'core_local_activity') {
    const details = record.details as Record<string, unknown> | undefined;
    return payloadsIn(details?.result, found);
  }
  for (const [k, v] of Object.entries(record)) {
    // Search attributes stay readable by the server (it indexes them; ids only), the SDK's core
    // writes patch markers (a patch id) itself, and headers carry request ids: past the codec.
    if (!['searchAttributes', 'patch-data', 'header'].includes(k)) payloadsIn(v, found);
  }
  return found;
}
