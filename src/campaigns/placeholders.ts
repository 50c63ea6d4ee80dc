/**
 * `{name}`-style placeholders in a campaign link's description, filled per recipient. Only the
 * recipient's own fields may be named, so a typo (`{nmae}`) is refused when the campaign is
 * created rather than sent to a hundred thousand customers as written.
 */
import { formatAmount } from '../money/format';

/** Recipient fields a description may name; `{metadata.<key>}` names one metadata column. */
export const PLACEHOLDER_FIELDS = ['name', 'email', 'phone', 'reference', 'amount'] as const;
export type PlaceholderField = (typeof PLACEHOLDER_FIELDS)[number];

const PLACEHOLDER = /\{([^{}]*)\}/g;
const METADATA = /^metadata\.(.{1,40})$/;

export type Placeholder = { field: PlaceholderField } | { field: 'metadata'; key: string };

/** The column a placeholder reads: `name`, `metadata.vip`. */
export const columnOf = (p: Placeholder): string => (p.field === 'metadata' ? `metadata.${p.key}` : p.field);

/** The placeholders of a template, or the reason it is not a valid one. */
export function parsePlaceholders(
  template: string,
): { ok: true; placeholders: Placeholder[] } | { ok: false; reason: string } {
  const placeholders: Placeholder[] = [];
  for (const match of template.matchAll(PLACEHOLDER)) {
    const inner = (match[1] ?? '').trim();
    const metadata = METADATA.exec(inner);
    if (metadata?.[1]) placeholders.push({ field: 'metadata', key: metadata[1] });
    else if ((PLACEHOLDER_FIELDS as readonly string[]).includes(inner))
      placeholders.push({ field: inner as PlaceholderField });
    else
      return {
        ok: false,
        reason: `unknown placeholder {${inner}}: use ${PLACEHOLDER_FIELDS.map((f) => `{${f}}`).join(', ')} or {metadata.<key>}`,
      };
  }
  if (/[{}]/.test(template.replace(PLACEHOLDER, '')))
    return { ok: false, reason: 'has an unmatched "{" or "}"; placeholders look like {name}' };
  return { ok: true, placeholders };
}

export interface PlaceholderValues {
  name?: string | null;
  email?: string | null;
  phone?: string | null;
  reference?: string | null;
  /** Minor units: the recipient's own amount, else the template's. */
  amount?: number | null;
  currency: string;
  /** The recipient's locale formats `{amount}` (default en). */
  locale?: string | null;
  metadata?: Record<string, string>;
}

/** The description a recipient's link carries; a field the recipient lacks becomes empty. */
export function renderDescription(template: string, values: PlaceholderValues): string {
  return template.replace(PLACEHOLDER, (_, raw: string) => {
    const inner = raw.trim();
    const metadata = METADATA.exec(inner);
    if (metadata?.[1]) return values.metadata?.[metadata[1]] ?? '';
    if (inner === 'amount')
      return values.amount == null ? '' : formatAmount(values.amount, values.currency, values.locale ?? 'en');
    const value = values[inner as Exclude<PlaceholderField, 'amount'>];
    return typeof value === 'string' ? value : '';
  });
}
