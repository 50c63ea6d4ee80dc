import type { Channel } from '../../workflows/payment-link/contract';
import type { CampaignThrottle } from './schema';

/**
 * How many links per second a campaign creates. Each link sends its first message the moment it
 * is created, one per channel of the template, so pacing creation by the smallest of
 * `links_per_second`, `email_per_second` (when the template sends email) and `sms_per_second`
 * (when it sends SMS) holds each channel's rate for those first messages. Reminders come later,
 * spread by the same pacing. The channel task queues' global limits (EMAIL/SMS_PER_SECOND, all
 * campaigns and links together) still apply on top.
 */
export function creationRate(
  throttle: CampaignThrottle | null | undefined,
  channels: readonly Channel[],
  fallback: number,
): number {
  const limits = [
    throttle?.links_per_second,
    channels.includes('email') ? throttle?.email_per_second : undefined,
    channels.includes('sms') ? throttle?.sms_per_second : undefined,
  ].filter((n): n is number => typeof n === 'number' && n > 0);
  return limits.length > 0 ? Math.min(...limits) : fallback;
}
