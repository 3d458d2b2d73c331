// express-jwt + jwks-rsa: an Express API verifies authd's tokens through the JWKS, and
// with an isRevoked hook over RFC 7662 introspection refuses a logged-out token.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import express from 'express';
import { expressjwt } from 'express-jwt';
import jwksRsa from 'jwks-rsa';
import { AUDIENCE, ISSUER, logout, metadata, tokens } from '../helpers.mjs';

async function introspectionSaysRevoked(meta, token) {
  const basic = Buffer.from(`${process.env.RS_CLIENT_ID}:${process.env.RS_CLIENT_SECRET}`).toString('base64');
  const r = await fetch(meta.introspection_endpoint, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}` },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }),
  });
  const body = await r.json();
  return body.active !== true;
}

async function startApi(meta) {
  const app = express();
  const secret = jwksRsa.expressJwtSecret({ jwksUri: meta.jwks_uri, cache: true, rateLimit: true });
  app.get('/stateless', expressjwt({ secret, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE }),
    (req, res) => res.json({ sub: req.auth.sub, client_id: req.auth.client_id }));
  app.get('/checked', expressjwt({
    secret, algorithms: ['ES256'], issuer: ISSUER, audience: AUDIENCE,
    isRevoked: async (req, token) => introspectionSaysRevoked(meta, req.headers.authorization.slice(7)),
  }), (req, res) => res.json({ sub: req.auth.sub }));
  app.use((err, req, res, next) => res.status(err.status ?? 500).json({ error: err.code ?? 'error' }));
  const server = await new Promise((resolve) => { const s = app.listen(0, '127.0.0.1', () => resolve(s)); });
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

test('express-jwt with jwks-rsa accepts the token, and refuses it after logout with introspection', async () => {
  const meta = await metadata();
  const { server, base } = await startApi(meta);
  try {
    const { access_token } = await tokens();
    const auth = { authorization: `Bearer ${access_token}` };
    let r = await fetch(`${base}/stateless`, { headers: auth });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).client_id, process.env.PUBLIC_CLIENT_ID);
    r = await fetch(`${base}/checked`, { headers: auth });
    assert.equal(r.status, 200);
    r = await fetch(`${base}/stateless`, { headers: { authorization: 'Bearer not.a.token' } });
    assert.equal(r.status, 401);

    await logout(access_token);
    r = await fetch(`${base}/checked`, { headers: auth });
    assert.equal(r.status, 401, 'introspection sees the logout at once');
  } finally {
    server.close();
  }
});
