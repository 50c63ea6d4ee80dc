/**
 * Holds one activity of the real worker (local activities included) at a chosen moment, so a
 * test can make something happen meanwhile: an activity interceptor, given to the stack's worker
 * (`startStack({ activityInterceptors: [holds.interceptor] })`), no change to the activities.
 */
import type {
  ActivityExecuteInput,
  ActivityInboundCallsInterceptor,
  ActivityInterceptorsFactory,
  Next,
} from '@temporalio/worker';

export interface HeldActivity {
  /** Resolves once the activity is being held (`after`: its work done, its result not yet returned). */
  reached: Promise<void>;
  release(): void;
}

interface Armed {
  matches(activityType: string, args: unknown[]): boolean;
  when: 'before' | 'after';
  reached(): void;
  released: Promise<void>;
}

export function activityHolds() {
  const armed: Armed[] = [];

  /** The first armed hold this attempt matches, taken: each hold holds one attempt only. */
  const take = (activityType: string, args: unknown[], when: Armed['when']) => {
    const at = armed.findIndex((a) => a.when === when && a.matches(activityType, args));
    return at < 0 ? undefined : armed.splice(at, 1)[0];
  };

  class Holder implements ActivityInboundCallsInterceptor {
    constructor(private readonly activityType: string) {}

    async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>) {
      const before = take(this.activityType, input.args, 'before');
      if (before) {
        before.reached();
        await before.released;
      }
      const result = await next(input);
      const after = take(this.activityType, input.args, 'after');
      if (after) {
        after.reached();
        await after.released;
      }
      return result;
    }
  }

  const interceptor: ActivityInterceptorsFactory = (ctx) => ({
    inbound: new Holder(ctx.info.activityType),
  });

  /** Holds the next attempt `matches` accepts, before it runs or after it did its work. */
  function hold(
    matches: (activityType: string, args: unknown[]) => boolean,
    when: Armed['when'] = 'after',
  ): HeldActivity {
    let reached!: () => void;
    let release!: () => void;
    const reachedP = new Promise<void>((r) => {
      reached = r;
    });
    const released = new Promise<void>((r) => {
      release = r;
    });
    armed.push({ matches, when, reached, released });
    return { reached: reachedP, release };
  }

  return { interceptor, hold };
}
