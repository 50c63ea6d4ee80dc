/**
 * Moves every failure's message and stack trace into its encoded attributes, a payload the codec
 * encrypts: an SMTP refusal quotes the customer's address, and Temporal would store it in clear.
 * CommonJS because the SDK `require()`s it by path (clients, worker) and bundles it into the
 * workflow sandbox.
 */
const { DefaultFailureConverter } = require('@temporalio/common');

exports.failureConverter = new DefaultFailureConverter({ encodeCommonAttributes: true });
