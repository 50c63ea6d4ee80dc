/**
 * What one interleaving of the money model is: the links it starts with and its steps, each step a
 * few commands sent at once. Generated (and shrunk) by fast-check from a seed, so a seed and a
 * path name one interleaving for ever; what the system answers to it may still vary, as real
 * concurrency does.
 */
import fc from 'fast-check';

export type LinkKind = 'single' | 'partial' | 'multi';
export type DocumentKind = 'none' | 'invoice' | 'order';

export interface LinkSpec {
  kind: LinkKind;
  /** Uses of a multi-use link (its max_payments); a single-use or partial link has one. */
  uses: 2 | 3;
  /** The invoice or order the link collects for, made for it with the link's amount due. */
  document: DocumentKind;
  /** Expires a few seconds after it is made (the `expire` command waits for that), else in an hour. */
  shortExpiry: boolean;
}

/**
 * `link` and `session` pick among what the run knows when the command is sent (modulo their
 * number): the links made so far (reissues add some), for submit, decline, refund and replay only
 * those with a session, and the sessions opened on that link in earlier steps, in the order
 * their commands were listed.
 */
export type Command =
  /** The customer opens the link page and presses Pay (`part`: which partial amount). */
  | { kind: 'open'; link: number; part: number }
  /** The sandbox checkout of a session submitted: a capture. */
  | { kind: 'submit'; link: number; session: number }
  /** The sandbox checkout submitted with a declined card. */
  | { kind: 'decline'; link: number; session: number }
  /** The merchant cancels the link (API). */
  | { kind: 'cancel'; link: number }
  /** Waits until a short-expiry link has expired (or closed otherwise); nothing for a long one. */
  | { kind: 'expire'; link: number }
  /** The merchant refunds the payment made through a session, in full or half (API). */
  | { kind: 'refund'; link: number; session: number; half: boolean }
  /** The provider sends a session's callbacks again, twice at once. */
  | { kind: 'replay'; link: number; session: number }
  /** The merchant reissues a closed link (API): a new link for what is left, same document. */
  | { kind: 'reissue'; link: number };

export interface Scenario {
  links: LinkSpec[];
  steps: Command[][];
}

/** Link amounts in cents (USD): a multi-use link sells one unit per use. */
export const AMOUNTS: Record<LinkKind, number> = { single: 5000, partial: 10000, multi: 2500 };
/** What the customer types on a partial link, by `part`; undefined: the whole balance. */
export const PARTIAL_PARTS: (number | undefined)[] = [4000, 6000, 2500, undefined];
export const SHORT_EXPIRY = 'PT3S';
export const LONG_EXPIRY = 'PT1H';

const pick = fc.nat({ max: 3 });

const linkSpec: fc.Arbitrary<LinkSpec> = fc.record({
  kind: fc.constantFrom<LinkKind>('single', 'partial', 'multi'),
  uses: fc.constantFrom<2 | 3>(2, 3),
  document: fc.constantFrom<DocumentKind>('none', 'invoice', 'order'),
  shortExpiry: fc.boolean(),
});

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('open' as const), link: pick, part: pick }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('submit' as const), link: pick, session: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('decline' as const), link: pick, session: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('cancel' as const), link: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire' as const), link: pick }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('refund' as const),
      link: pick,
      session: pick,
      half: fc.boolean(),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('replay' as const), link: pick, session: pick }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('reissue' as const), link: pick }) },
);

export const scenarioArbitrary: fc.Arbitrary<Scenario> = fc.record({
  links: fc.array(linkSpec, { minLength: 1, maxLength: 3 }),
  steps: fc.array(fc.array(command, { minLength: 1, maxLength: 3 }), { minLength: 1, maxLength: 8 }),
});

const money = (cents: number) => (cents / 100).toFixed(2);

export function describeLink(spec: LinkSpec): string {
  const kind =
    spec.kind === 'multi'
      ? `multi-use ×${spec.uses} of ${money(AMOUNTS.multi)}`
      : spec.kind === 'partial'
        ? `partial ${money(AMOUNTS.partial)}`
        : `single-use ${money(AMOUNTS.single)}`;
  const document = spec.document === 'none' ? '' : ` for an ${spec.document}`;
  return `${kind}${document}, expires ${spec.shortExpiry ? `in ${SHORT_EXPIRY.slice(2).toLowerCase()}` : 'in 1h'}`;
}

export function describeCommand(c: Command): string {
  switch (c.kind) {
    case 'open': {
      const part = PARTIAL_PARTS[c.part % PARTIAL_PARTS.length];
      return `open L${c.link} (if partial: ${part === undefined ? 'the balance' : money(part)})`;
    }
    case 'submit':
    case 'decline':
    case 'replay':
      return `${c.kind} L${c.link} S${c.session}`;
    case 'refund':
      return `refund L${c.link} S${c.session} ${c.half ? 'half' : 'in full'}`;
    default:
      return `${c.kind} L${c.link}`;
  }
}

/** The interleaving as a person reads it: one line per link, one per step (`a ∥ b`: at once). */
export function describeScenario(s: Scenario): string[] {
  return [
    ...s.links.map((l, i) => `link L${i}: ${describeLink(l)}`),
    ...s.steps.map((step, i) => `step ${i + 1}: ${step.map(describeCommand).join('  ∥  ')}`),
    '(Ln: the n-th link made so far, of those with a session for submit/decline/refund/replay, modulo their number; Sn: its n-th session opened in an earlier step, modulo)',
  ];
}
