import express, { Router } from 'express';
import twilio from 'twilio';
import type { NotificationStore } from '../../notifications/notification-store';
import { ApiError } from '../errors';

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
    if (!params.MessageSid || !params.MessageStatus) {
      throw ApiError.invalid('MessageSid and MessageStatus are required', 'MessageSid');
    }
    await deps.notifications.applyProviderStatus(params.MessageSid, params.MessageStatus, params.ErrorCode);
    res.status(204).end();
  });
  return router;
}
