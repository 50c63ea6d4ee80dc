/**
 * A provider's "no" that no retry can change (unknown mailbox, invalid number, recipient said
 * STOP). Anything else thrown by a sender is transient and left to Temporal's retries.
 */
export class PermanentDeliveryError extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
    /** The recipient asked not to be contacted on this channel (SMS STOP). */
    readonly optedOut = false,
  ) {
    super(`${code}: ${reason}`);
    this.name = 'PermanentDeliveryError';
  }
}

export interface Accepted {
  providerMessageId: string;
}
