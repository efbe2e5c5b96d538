// @hey-api/openapi-ts: the TypeScript client (fetch), built by `make clients` (scripts/clients.py),
// which sets CLIENT_SPEC and CLIENT_OUT. Imports carry `.js` so that the package runs as ES modules
// under Node as well as in bundlers.
export default {
  input: process.env.CLIENT_SPEC,
  output: { path: process.env.CLIENT_OUT, importFileExtension: '.js' },
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
};
