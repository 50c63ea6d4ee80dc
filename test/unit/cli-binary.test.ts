import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { resolveTemporalCli, TemporalCliNotFoundError } from '../../src/temporal/cli-binary';

const scratch = () => mkdtempSync(join(tmpdir(), 'paylinks-cli-'));

function fakeExecutable(dir: string, name: string): string {
  const file = join(dir, name);
  writeFileSync(file, '#!/bin/sh\nexit 0\n');
  chmodSync(file, 0o755);
  return file;
}

describe('resolveTemporalCli', () => {
  it('uses TEMPORAL_CLI_PATH when it is given', async () => {
    const dir = scratch();
    const explicit = fakeExecutable(dir, 'my-temporal');
    const onPath = fakeExecutable(scratch(), 'temporal');
    const found = await resolveTemporalCli({
      explicitPath: explicit,
      pathEnv: join(onPath, '..'),
      toolsDir: dir,
    });
    expect(found).toBe(explicit);
  });

  it('rejects a TEMPORAL_CLI_PATH that is not an executable', async () => {
    await expect(
      resolveTemporalCli({ explicitPath: '/nonexistent/temporal', pathEnv: '', toolsDir: scratch() }),
    ).rejects.toThrow(/TEMPORAL_CLI_PATH is set to \/nonexistent\/temporal/);
  });

  it('finds `temporal` on PATH, then in .tools/', async () => {
    const binDir = scratch();
    const onPath = fakeExecutable(binDir, 'temporal');
    expect(await resolveTemporalCli({ pathEnv: binDir, toolsDir: scratch() })).toBe(onPath);

    const tools = scratch();
    const built = fakeExecutable(tools, 'temporal');
    expect(await resolveTemporalCli({ pathEnv: scratch(), toolsDir: tools })).toBe(built);
  });

  it('with neither the CLI nor Go, fails with instructions', async () => {
    const emptyPath = scratch(); // a PATH that hides both `temporal` and `go`
    const attempt = resolveTemporalCli({ pathEnv: emptyPath, toolsDir: scratch() });
    await expect(attempt).rejects.toBeInstanceOf(TemporalCliNotFoundError);
    await expect(attempt).rejects.toThrow(/Go is not installed/);
    await expect(attempt).rejects.toThrow(/go install github\.com\/temporalio\/cli\/cmd\/temporal@v1\.5\.1/);
    await expect(attempt).rejects.toThrow(/TEMPORAL_ADDRESS/);
  });

  it('builds with `go install` into .tools/ when Go is there, printing progress', async () => {
    // A stand-in `go` that records its arguments and GOBIN, and "installs" a binary there.
    const goDir = scratch();
    const record = join(goDir, 'args');
    writeFileSync(
      join(goDir, 'go'),
      `#!/bin/sh\necho "$@ GOBIN=$GOBIN" > ${record}\necho 'go: downloading example.com/x v1'\nprintf '#!/bin/sh\\n' > "$GOBIN/temporal"\n/bin/chmod +x "$GOBIN/temporal"\n`,
    );
    chmodSync(join(goDir, 'go'), 0o755);
    const tools = scratch();
    const progress: string[] = [];
    const found = await resolveTemporalCli({
      pathEnv: goDir,
      toolsDir: tools,
      onProgress: (l) => progress.push(l),
    });
    expect(found).toBe(join(tools, 'temporal'));
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(record, 'utf8').trim()).toBe(
      `install github.com/temporalio/cli/cmd/temporal@v1.5.1 GOBIN=${tools}`,
    );
    expect(progress[0]).toMatch(/Building the Temporal CLI/);
    expect(progress.at(-1)).toMatch(/Temporal CLI built in/);
  });
});
