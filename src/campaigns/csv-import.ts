/**
 * A recipients CSV read as it arrives: bytes counted against a cap, checked to be UTF-8, parsed
 * by csv-parse record by record into a RecipientBatch. Nothing but the parsed recipients is
 * held, so a body over the cap is refused after at most the cap has been read.
 */
import type { Readable } from 'node:stream';
import { pipeline, Transform, type TransformCallback } from 'node:stream';
import { CsvError, parse } from 'csv-parse';
import { ApiError } from '../api/errors';
import { type Cells, type ImportRules, RecipientBatch } from './recipients';

export interface ImportLimits {
  /** Request body bytes, CSV or JSON. */
  maxBytes: number;
  /** Data rows (CSV) or array elements (JSON) in one import. */
  maxRows: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = { maxBytes: 20 * 1024 * 1024, maxRows: 100_000 };

/** A single CSV record (a line, or lines within quotes) larger than this is not a recipient. */
const MAX_RECORD_BYTES = 64 * 1024;

export const bodyTooLarge = (maxBytes: number) =>
  new ApiError(
    413,
    'invalid_request_error',
    'body_too_large',
    `The recipients file is larger than ${Math.floor(maxBytes / (1024 * 1024))} MB: split it and import the parts one after another`,
  );

export const tooManyRows = (maxRows: number) =>
  new ApiError(
    413,
    'invalid_request_error',
    'too_many_recipients',
    `At most ${maxRows.toLocaleString('en')} recipients per import: split the file and import the parts one after another`,
  );

const notUtf8 = (detail: string) =>
  new ApiError(
    415,
    'invalid_request_error',
    'unsupported_encoding',
    `The CSV must be UTF-8 encoded (${detail}); save it as "CSV UTF-8" and import it again`,
  );

/** Passes UTF-8 text on, refusing other encodings and anything past `maxBytes`. */
class Utf8Gate extends Transform {
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private bytes = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    const start = this.bytes;
    this.bytes += chunk.length;
    if (start === 0 && chunk.length >= 2 && [0xfffe, 0xfeff].includes(chunk.readUInt16BE(0)))
      done(notUtf8('it starts with a UTF-16 byte order mark'));
    else if (this.bytes > this.maxBytes) done(bodyTooLarge(this.maxBytes));
    else {
      let text: string | undefined;
      try {
        text = this.decoder.decode(chunk, { stream: true });
      } catch {
        text = undefined;
      }
      if (text === undefined) done(notUtf8(`bytes that are not UTF-8 after byte ${start}`));
      else done(null, Buffer.from(text, 'utf8'));
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.decode();
      done();
    } catch {
      done(notUtf8('it ends in the middle of a character'));
    }
  }
}

/**
 * Reads a CSV body into a batch. The first record is the header (`rules.header` refuses unknown
 * or missing columns); a record with another number of fields is a rejected row; a record csv-parse
 * cannot read (an unclosed quote) refuses the whole file with its line.
 */
export async function readCsvRecipients(
  body: Readable,
  rules: ImportRules,
  limits: ImportLimits,
): Promise<RecipientBatch> {
  const gate = new Utf8Gate(limits.maxBytes);
  const parser = parse({
    bom: true,
    trim: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    relax_column_count: true,
    max_record_size: MAX_RECORD_BYTES,
  });
  pipeline(gate, parser, () => {});
  // A client gone before the end of its upload: the body closes without ending.
  const abort = () => {
    if (!body.readableEnded)
      gate.destroy(new ApiError(400, 'invalid_request_error', 'body_aborted', 'The upload was interrupted'));
  };
  body.once('close', abort);
  body.once('error', (err) => gate.destroy(err));
  body.pipe(gate);
  const batch = new RecipientBatch(rules);
  let columns: string[] | undefined;
  try {
    for await (const record of parser as AsyncIterable<string[]>) {
      if (!columns) {
        columns = rules.header(record);
        continue;
      }
      if (batch.rows >= limits.maxRows) throw tooManyRows(limits.maxRows);
      if (record.length !== columns.length) {
        batch.reject(null, `has ${record.length} fields; the header has ${columns.length}`);
        continue;
      }
      const cells: Cells = new Map();
      columns.forEach((column, i) => {
        cells.set(column, record[i] ?? '');
      });
      batch.add(cells);
    }
  } catch (err) {
    if (err instanceof CsvError)
      throw ApiError.invalid(`The CSV cannot be read: ${err.message}`, undefined, 'csv_invalid');
    throw err;
  } finally {
    body.off('close', abort);
    body.unpipe(gate);
  }
  if (!columns)
    throw ApiError.invalid('The CSV is empty: its first line must name the columns', undefined, 'csv_empty');
  return batch;
}
