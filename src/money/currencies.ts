import currencyCodes from 'currency-codes';

/**
 * ISO 4217 codes that are not money a customer can pay with: precious metals, bond-market
 * units, SDRs, fund codes, and the testing / no-currency codes.
 */
const NOT_PAYABLE = new Set([
  'XAU',
  'XAG',
  'XPD',
  'XPT',
  'XBA',
  'XBB',
  'XBC',
  'XBD',
  'XDR',
  'XSU',
  'XUA',
  'XTS',
  'XXX',
  'BOV',
  'CHE',
  'CHW',
  'CLF',
  'COU',
  'MXV',
  'USN',
  'UYI',
  'UYW',
]);

/** The ISO 4217 minor-unit exponent (JPY 0, USD 2, KWD 3), or undefined for an unknown code. */
export function currencyExponent(code: string): number | undefined {
  if (NOT_PAYABLE.has(code)) return undefined;
  return currencyCodes.code(code)?.digits;
}

export const isPayableCurrency = (code: string): boolean => currencyExponent(code) !== undefined;
