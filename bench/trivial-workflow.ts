/** The raw-start baseline of bench/campaign.ts: a workflow that does nothing, so only the start costs. */
export async function benchTrivialWorkflow(): Promise<void> {}
