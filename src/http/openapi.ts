import type { SwaggerTransformObject } from '@fastify/swagger';

type Operation = { requestBody?: { required?: boolean; content?: Record<string, { schema?: { required?: string[] } }> } };

/**
 * @fastify/swagger marks every request body `required: true`, but a POST/PUT/PATCH without a body is read as `{}`
 * here (app.ts), so a JSON body with no required field (PATCH /v1/account, commit, cancel…) may be omitted.
 * The document says so, and generated clients don't force an empty `{}`.
 */
export const optionalBodies: SwaggerTransformObject = (input) => {
  const doc = ('openapiObject' in input ? input.openapiObject : input.swaggerObject) as { paths?: Record<string, Record<string, Operation>> };
  for (const ops of Object.values(doc.paths ?? {})) {
    for (const op of Object.values(ops)) {
      const content = op?.requestBody?.content;
      const json = content?.['application/json'];
      if (json && Object.keys(content!).length === 1 && !(json.schema?.required?.length)) op.requestBody!.required = false;
    }
  }
  return doc as ReturnType<SwaggerTransformObject>;
};
