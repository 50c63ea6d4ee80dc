/** The baseline's workflow: started, completed in its first task, nothing else. */
export async function benchTrivial(): Promise<void> {}
