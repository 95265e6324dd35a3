import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

/*
 * Bodies are validated without type coercion ("5" is not 5); unknown body fields are accepted and dropped (spec
 * §9.2: clients of the hosted API may send fields we have not seen), so handlers only ever see known ones.
 * Query strings, path params and headers are text on the wire, so those coerce to the schema's types; unknown query
 * parameters are still refused (a misspelt filter must not silently list everything).
 */
function makeAjv(coerce: boolean, dropUnknown: boolean) {
  const ajv = new Ajv.default({ coerceTypes: coerce, useDefaults: true, removeAdditional: dropUnknown, allErrors: false, strict: false });
  addFormats.default(ajv);
  return ajv;
}

const strict = makeAjv(false, true);
const coercing = makeAjv(true, false);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) =>
  (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
