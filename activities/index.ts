import { createLinkActivities, type LinkActivityDeps } from './links';
import { createNotificationActivities, type NotificationActivityDeps } from './notifications';

export type ActivityDeps = LinkActivityDeps & NotificationActivityDeps;

/** Every activity the payment-link workflow calls, wired from its dependencies. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createLinkActivities(deps),
    ...createNotificationActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
