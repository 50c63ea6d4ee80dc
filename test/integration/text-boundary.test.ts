/**
 * The shared text schemas (src/api/text.ts) against a real Postgres: whatever they accept is
 * stored as given, in text and in jsonb (as a key and as a value); what they refuse is exactly what
 * Postgres would refuse or mangle.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idOf, isoDate, isoDateTime, isStorableJson, text } from '../../src/api/text';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
  await database.db.raw('CREATE TABLE text_probe (id serial PRIMARY KEY, t text, j jsonb, d date)');
});
afterAll(async () => {
  await database?.drop();
});

/** Any UTF-16 string, with NULs and lone surrogates far likelier than chance would make them. */
const hostileString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({
    unit: fc.constantFrom('\u0000', '\ud800', '\udbff', '\udc00', '\udfff', 'a', 'é', '😀', '\\', '"'),
    maxLength: 12,
  }),
);

describe('text(max)', () => {
  const schema = text(100);

  it('accepts exactly the well-formed strings without NUL, within the bound', () => {
    fc.assert(
      fc.property(hostileString, (s) => {
        const expected = s.isWellFormed() && !s.includes('\u0000') && s.length <= 100;
        expect(schema.safeParse(s).success).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('whatever it accepts Postgres stores and gives back unchanged, in text and jsonb', async () => {
    await fc.assert(
      fc.asyncProperty(hostileString, async (s) => {
        if (!schema.safeParse(s).success) return;
        const json = { [s]: s, list: [s] };
        const [row] = await database.db('text_probe').insert({ t: s, j: json }).returning(['t', 'j']);
        expect(row.t).toBe(s);
        expect(row.j).toEqual(json);
      }),
      { numRuns: 300 },
    );
  });

  it('what it refuses Postgres would refuse or change', async () => {
    for (const s of ['a\u0000b', '\ud800', 'x\udc00y']) {
      expect(schema.safeParse(s).success).toBe(false);
      const stored = await database.db
        .raw('SELECT ?::text AS t, ?::jsonb AS j', [s, JSON.stringify({ k: s })])
        .then(
          (r: { rows: { t: string }[] }) => r.rows[0]?.t,
          () => 'refused',
        );
      expect(stored).not.toBe(s);
    }
  });
});

describe('isStorableJson', () => {
  it('agrees with Postgres jsonb on nested keys and values', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(hostileString, fc.oneof(hostileString, fc.array(hostileString, { maxLength: 3 })), {
          maxKeys: 3,
        }),
        async (value) => {
          const accepted = await database.db.raw('SELECT ?::jsonb AS j', [JSON.stringify(value)]).then(
            () => true,
            () => false,
          );
          // Postgres refuses NUL and lone surrogates in jsonb; the check must refuse at least those.
          if (isStorableJson(value)) expect(accepted).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('ids and dates', () => {
  it('an id has its prefix and the base64url alphabet', () => {
    const customer = idOf('cus', 'customer');
    expect(customer.safeParse('cus_AbC-12_x').success).toBe(true);
    for (const bad of [
      'cus_',
      'inv_abc',
      'cus_a\u0000',
      'cus_\ud800',
      ' cus_a',
      'cus_a b',
      `cus_${'a'.repeat(65)}`,
    ])
      expect({ bad, ok: customer.safeParse(bad).success }).toEqual({ bad, ok: false });
  });

  it('dates and times Postgres cannot hold, or no one means, are refused', async () => {
    for (const bad of ['0000-01-01', '1969-12-31', '2030-02-30', '+12345-01-01', '2030-1-1'])
      expect({ bad, ok: isoDate().safeParse(bad).success }).toEqual({ bad, ok: false });
    for (const good of ['1970-01-01', '2030-02-28', '9999-12-31']) {
      expect(isoDate().safeParse(good).success).toBe(true);
      await database.db('text_probe').insert({ d: good });
    }
    expect(isoDateTime().safeParse('0000-01-01T00:00:00Z').success).toBe(false);
    expect(isoDateTime().safeParse('2030-01-01T00:00:00+02:00').success).toBe(true);
  });
});
