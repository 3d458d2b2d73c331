// jose: createRemoteJWKSet + jwtVerify with typ 'at+jwt', issuer and audience.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify, errors } from 'jose';
import { AUDIENCE, ISSUER, metadata, tokens } from '../helpers.mjs';

test('jose verifies an access token against the remote JWKS', async () => {
  const meta = await metadata();
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { access_token } = await tokens('read');
  const { payload, protectedHeader } = await jwtVerify(access_token, jwks, {
    issuer: ISSUER,
    audience: AUDIENCE,
    typ: 'at+jwt',
    algorithms: ['ES256'],
    requiredClaims: ['exp', 'iat', 'sub', 'jti', 'client_id'],
  });
  assert.equal(protectedHeader.typ, 'at+jwt');
  assert.equal(payload.client_id, process.env.PUBLIC_CLIENT_ID);
  assert.equal(payload.scope, 'read');
});

test('jose refuses the token for another audience', async () => {
  const meta = await metadata();
  const jwks = createRemoteJWKSet(new URL(meta.jwks_uri));
  const { access_token } = await tokens();
  await assert.rejects(
    jwtVerify(access_token, jwks, { issuer: ISSUER, audience: 'someone-else', typ: 'at+jwt' }),
    errors.JWTClaimValidationFailed,
  );
});
