import { SearchAttributes } from '../../workflows/payment-link/contract';

/**
 * `--search-attribute` flags for the dev server. A production cluster registers the same names
 * once with `temporal operator search-attribute create --name LinkStatus --type Keyword` (README).
 */
export const searchAttributeFlags = (): string[] =>
  Object.values(SearchAttributes).flatMap((key) => ['--search-attribute', `${key.name}=Keyword`]);
