import type { Logger } from './logger';

/**
 * Resources register how to stop; they are stopped in reverse order of start, once, on
 * SIGINT/SIGTERM or when start-up fails half-way. Nothing is left running behind.
 */
export class Shutdown {
  private readonly steps: { name: string; stop: () => Promise<unknown> }[] = [];
  private running: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  add(name: string, stop: () => Promise<unknown>): void {
    this.steps.push({ name, stop });
  }

  run(): Promise<void> {
    this.running ??= (async () => {
      for (const step of this.steps.reverse()) {
        try {
          await step.stop();
          this.logger.debug(`stopped ${step.name}`);
        } catch (err) {
          this.logger.error({ err }, `failed to stop ${step.name}`);
        }
      }
    })();
    return this.running;
  }

  onSignals(after: () => void = () => process.exit(0)): void {
    // Kept for the whole shutdown: a second Ctrl-C (or a wrapper relaying the same signal) must
    // not fall back to Node's default, which would exit at once and orphan child processes.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.on(signal, () => {
        if (this.running) {
          this.logger.info(`${signal} received again; still shutting down`);
          return;
        }
        this.logger.info(`${signal} received, shutting down`);
        void this.run().then(after);
      });
    }
  }
}
