// Shared helpers: authd's issuer and clients come from .ci/interop.sh.
import { randomUUID } from 'node:crypto';

export const ISSUER = process.env.AUTHD_ISSUER;
export const AUDIENCE = process.env.AUTHD_AUDIENCE ?? 'authd';
const PASSWORD = 'correct horse battery staple';

export async function metadata() {
  const r = await fetch(`${ISSUER}/.well-known/oauth-authorization-server`);
  if (r.status !== 200) throw new Error(`metadata: ${r.status}`);
  return r.json();
}

/** Registers a fresh user and logs in through the password grant of a public client. */
export async function tokens(scope) {
  const email = `node-${randomUUID().slice(0, 12)}@example.com`;
  let r = await fetch(`${ISSUER}/v1/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password: PASSWORD }),
  });
  if (r.status !== 201) throw new Error(`register: ${r.status} ${await r.text()}`);
  const form = new URLSearchParams({
    grant_type: 'password',
    client_id: process.env.PUBLIC_CLIENT_ID,
    username: email,
    password: PASSWORD,
  });
  if (scope) form.set('scope', scope);
  r = await fetch(`${ISSUER}/oauth/token`, { method: 'POST', body: form });
  if (r.status !== 200) throw new Error(`token: ${r.status} ${await r.text()}`);
  return r.json();
}

export async function logout(accessToken) {
  const r = await fetch(`${ISSUER}/v1/auth/logout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  if (r.status !== 204) throw new Error(`logout: ${r.status}`);
}
