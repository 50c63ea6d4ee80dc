/** CSV cells a spreadsheet would run as formulas are made inert (results.csv): a pure rule. */
import { describe, expect, it } from 'vitest';
import { inertCell } from '../../src/campaigns/inert-cell';

describe('inertCell', () => {
  it.each([
    ['=HYPERLINK("http://evil.example","x")', 'name'],
    ['+1+1@example.com', 'email'],
    ["-2+3+cmd|' /C calc'!A0", 'email'],
    ['@SUM(1+1)', 'reference'],
    ['\t=1+1', 'name'],
    ['\r=1+1', 'name'],
    ['-1', 'error'],
    // In the phone column, what is not a bare E.164 number is quoted like anything else.
    ['+1 415 555 0123', 'phone'],
    ['+1415555012=1', 'phone'],
    ['+0123', 'phone'],
    ['+1234567890123456', 'phone'],
    ['=1+1', 'phone'],
    ['-14155550123', 'phone'],
    // An E.164-looking value elsewhere is a value someone typed: quoted.
    ['+14155550123', 'name'],
  ])('prefixes %j (%s) with a quote', (value, column) => {
    expect(inertCell(value, column)).toBe(`'${value}`);
  });

  it.each([
    ['+14155550123', 'phone'],
    ['+33612345678', 'phone'],
    ['Ada', 'name'],
    ['ada@example.com', 'email'],
    ["O'Brien = 1", 'name'],
    ['', 'reference'],
    ['https://pay.example/l/abc', 'url'],
  ])('leaves %j (%s) as it is', (value, column) => {
    expect(inertCell(value, column)).toBe(value);
  });
});
