import express, { Router } from 'express';
import twilio from 'twilio';
import { z } from 'zod';
import type { NotificationStore } from '../../notifications/notification-store';
import { ApiError } from '../errors';
import { parseBody } from '../validation';

/** The fields Paylinks reads of a status report; twilio sends many more, left unread. */
const StatusReportSchema = z.object({
  MessageSid: z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'must be a message SID'),
  MessageStatus: z.string().regex(/^[a-z_-]{1,32}$/, 'must be a message status'),
  ErrorCode: z
    .string()
    .regex(/^\d{0,10}$/, 'must be a twilio error code')
    .optional(),
});

/**
 * `POST /v1/callbacks/twilio/status`: twilio's delivery reports. The signature covers the full
 * public URL and the form parameters; anything unsigned or altered is refused.
 */
export function twilioCallbackRoutes(deps: {
  notifications: NotificationStore;
  /** Without twilio configured there is nothing to verify against: every callback is refused. */
  authToken: string | undefined;
  publicBaseUrl: string;
}): Router {
  const router = Router();
  router.post('/twilio/status', express.urlencoded({ extended: false, limit: '16kb' }), async (req, res) => {
    const signature = req.get('x-twilio-signature') ?? '';
    const url = `${deps.publicBaseUrl}${req.originalUrl}`;
    // Anything but a form body leaves req.body unset: nothing to verify, so it fails verification.
    const params = (req.body ?? {}) as Record<string, string>;
    if (!deps.authToken || !signature || !twilio.validateRequest(deps.authToken, signature, url, params)) {
      throw new ApiError(403, 'authentication_error', 'signature_invalid', 'Invalid X-Twilio-Signature');
    }
    const report = parseBody(StatusReportSchema, params);
    await deps.notifications.applyProviderStatus(
      report.MessageSid,
      report.MessageStatus,
      report.ErrorCode || undefined,
    );
    res.status(204).end();
  });
  return router;
}
