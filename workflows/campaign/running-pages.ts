/**
 * The pages of links in flight. The next page is claimed before its first slot and starts while
 * the previous ones' last links are still being stored, so the pace has no gap between pages.
 * Pages retry until they succeed; one that fails for good (its campaign is gone) fails the run.
 */
export class RunningPages {
  private readonly running = new Map<number, { seqs: number[]; done: Promise<unknown> }>();
  private started = 0;
  /** The first page that failed for good; the run throws it at its next step. */
  failure: unknown;

  constructor(private readonly make: (seqs: number[], firstSlotAt: number) => Promise<unknown>) {}

  get size(): number {
    return this.running.size;
  }

  /** The recipients the running pages hold: not claimed again. */
  seqs(): number[] {
    return [...this.running.values()].flatMap((p) => p.seqs);
  }

  /** Settles when the oldest running page ends. */
  oldest(): Promise<unknown> | undefined {
    return [...this.running.values()][0]?.done;
  }

  async drain(): Promise<void> {
    while (this.running.size > 0) await this.oldest();
  }

  start(seqs: number[], firstSlotAt: number): void {
    const id = ++this.started;
    const done = this.make(seqs, firstSlotAt).finally(() => this.running.delete(id));
    done.catch((err: unknown) => {
      this.failure ??= err;
    });
    this.running.set(id, { seqs, done });
  }
}
