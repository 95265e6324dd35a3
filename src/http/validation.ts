import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/*
 * Bodies are validated strictly: no type coercion ("5" is not 5) and unknown fields are rejected, not dropped.
 * Query strings, path params and headers are text on the wire, so those coerce to the schema's types.
 */
function makeAjv(coerce: boolean) {
  const ajv = new Ajv.default({ coerceTypes: coerce, useDefaults: true, removeAdditional: false, allErrors: false, strict: false });
  addFormats.default(ajv);
  return ajv;
}

const strict = makeAjv(false);
const coercing = makeAjv(true);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
