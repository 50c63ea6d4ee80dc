/**
 * The ordered list of migrations. An explicit source (rather than a directory scan) works the
 * same under tsx, compiled JS and tests, and makes a forgotten import a type error.
 */
import type { Knex } from 'knex';
import * as accountsAndLinks from './20261123000000_accounts_and_links';
import * as payments from './20261123000100_payments';
import * as notifications from './20261123000200_notifications';
import * as providerStatus from './20261123000300_notification_provider_status';
import * as paymentsApi from './20261123000400_payments_api';
import * as notificationLease from './20261123000500_notification_lease';
import * as idempotencyResource from './20261123000600_idempotency_resource';
import * as providerEventRaw from './20261123000700_provider_event_raw';
import * as moneyGuards from './20261124000000_money_guards';
import * as idempotencyScope from './20261124000100_idempotency_scope';
import * as oneLiveSession from './20261124000200_one_live_session';
import * as providersAndRefunds from './20261124000300_providers_and_refunds';
import * as webhookErrorClass from './20261124000400_webhook_error_class';
import * as linkAnalytics from './20261124000500_link_analytics';
import * as providerEventRetries from './20261124000600_provider_event_retries';
import * as providerEventLease from './20261124000700_provider_event_lease';
import * as payTimeHistogram from './20261124000800_pay_time_histogram';
import * as campaigns from './20261124000900_campaigns';
import * as outbox from './20261124001000_outbox';
import * as linkViews from './20261124001100_link_views';
import * as campaignProgress from './20261124001200_campaign_progress';
import * as documentsAndProviderIds from './20261204190522_documents_and_provider_ids';
import * as sessionReservations from './20261204190542_session_reservations';
import * as linkReplacements from './20261204192353_link_replacements';

type Migration = { up: (k: Knex) => Promise<void>; down: (k: Knex) => Promise<void> };

const MIGRATIONS: [string, Migration][] = [
  ['20261123000000_accounts_and_links', accountsAndLinks],
  ['20261123000100_payments', payments],
  ['20261123000200_notifications', notifications],
  ['20261123000300_notification_provider_status', providerStatus],
  ['20261123000400_payments_api', paymentsApi],
  ['20261123000500_notification_lease', notificationLease],
  ['20261123000600_idempotency_resource', idempotencyResource],
  ['20261123000700_provider_event_raw', providerEventRaw],
  ['20261124000000_money_guards', moneyGuards],
  ['20261124000100_idempotency_scope', idempotencyScope],
  ['20261124000200_one_live_session', oneLiveSession],
  ['20261124000300_providers_and_refunds', providersAndRefunds],
  ['20261124000400_webhook_error_class', webhookErrorClass],
  ['20261124000500_link_analytics', linkAnalytics],
  ['20261124000600_provider_event_retries', providerEventRetries],
  ['20261124000700_provider_event_lease', providerEventLease],
  ['20261124000800_pay_time_histogram', payTimeHistogram],
  ['20261124000900_campaigns', campaigns],
  ['20261124001000_outbox', outbox],
  ['20261124001100_link_views', linkViews],
  ['20261124001200_campaign_progress', campaignProgress],
  ['20261204190522_documents_and_provider_ids', documentsAndProviderIds],
  ['20261204190542_session_reservations', sessionReservations],
  ['20261204192353_link_replacements', linkReplacements],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => MIGRATIONS,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
