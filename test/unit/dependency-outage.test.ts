import { describe, expect, it } from 'vitest';
import { fromDependencyOutage, outageReason } from '../../src/api/errors';
import { isDatabaseUnavailable } from '../../src/db/connection-errors';
import { isTemporalUnavailable } from '../../src/temporal/unavailable';

const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

describe('isDatabaseUnavailable', () => {
  it.each([
    ['connection refused', withCode('ECONNREFUSED')],
    ['connection reset', withCode('ECONNRESET')],
    ['admin shutdown (57P01)', withCode('57P01', 'terminating connection due to administrator command')],
    ['too many connections (53300)', withCode('53300', 'sorry, too many clients already')],
    ['connection failure (08006)', withCode('08006')],
    ['statement timeout (57014)', withCode('57014', 'canceling statement due to statement timeout')],
    [
      'pool acquire timeout',
      Object.assign(new Error('Knex: Timeout acquiring a connection'), { name: 'KnexTimeoutError' }),
    ],
    ['pg connect timeout', new Error('timeout expired')],
    ['pg query read timeout, prefixed by knex', new Error('select * from "accounts" - Query read timeout')],
    ['lost connection', new Error('select 1 - Connection terminated unexpectedly')],
    ['wrapped', new Error('could not read', { cause: withCode('ECONNREFUSED') })],
    ['aggregate (happy eyeballs)', new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')])],
  ])('%s is an outage', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(true);
  });

  it.each([
    ['a data error (22021)', withCode('22021', 'invalid byte sequence for encoding "UTF8": 0x00')],
    ['a unique violation (23505)', withCode('23505')],
    ['a syntax error (42601)', withCode('42601')],
    ['a plain bug', new TypeError('cannot read properties of undefined')],
    ['not an error', 'ECONNREFUSED'],
  ])('%s is not', (_name, err) => {
    expect(isDatabaseUnavailable(err)).toBe(false);
  });
});

describe('isTemporalUnavailable', () => {
  const grpc = (code: number) => Object.assign(new Error('grpc'), { code, metadata: {} });
  it('UNAVAILABLE, DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED, bare or as the cause of a ServiceError', () => {
    expect(isTemporalUnavailable(grpc(14))).toBe(true);
    expect(isTemporalUnavailable(grpc(4))).toBe(true);
    expect(isTemporalUnavailable(grpc(8))).toBe(true);
    const service = Object.assign(new Error('Failed to start workflow', { cause: grpc(14) }), {
      name: 'ServiceError',
    });
    expect(isTemporalUnavailable(service)).toBe(true);
  });
  it('not NOT_FOUND, ALREADY_EXISTS or INVALID_ARGUMENT, nor a Node error code', () => {
    expect(isTemporalUnavailable(grpc(5))).toBe(false);
    expect(isTemporalUnavailable(grpc(6))).toBe(false);
    expect(isTemporalUnavailable(grpc(3))).toBe(false);
    expect(isTemporalUnavailable(withCode('ECONNREFUSED'))).toBe(false);
  });
});

describe('fromDependencyOutage', () => {
  it('is a 503 service_unavailable for either dependency, nothing for other errors', () => {
    expect(fromDependencyOutage(withCode('ECONNREFUSED'))?.toJSON()).toEqual({
      error: {
        type: 'service_unavailable_error',
        code: 'service_unavailable',
        message: 'The database is not answering right now. Retry later.',
      },
    });
    expect(fromDependencyOutage(Object.assign(new Error('x'), { code: 14, metadata: {} }))?.status).toBe(503);
    expect(fromDependencyOutage(new Error('boom'))).toBeUndefined();
  });
});

describe('outageReason', () => {
  it('keeps the driver’s words and code, not the statement knex puts before them', () => {
    const err = withCode(
      '57P01',
      'select * from "api_keys" where "key_hash" = \'secret-hash\' - terminating connection',
    );
    expect(outageReason(err)).toEqual({ reason: 'terminating connection', code: '57P01' });
  });
});
