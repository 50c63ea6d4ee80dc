import { type Config, ConfigError, type LoadOptions, loadConfig } from '../config';

/**
 * The configuration of an entry point, or a one-line reason on stderr and exit code 1: an
 * operator reads which setting to fix, not a stack trace.
 */
export function loadConfigOrExit(options?: LoadOptions): Config {
  try {
    return loadConfig(process.env, options);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`Paylinks cannot start: ${err.message}\n`);
    process.exit(1);
  }
}
