// The account page: sign in, list and revoke this user's sessions, sign out.
// The access token lives only in the `access` variable below (never in storage);
// the refresh token is an HttpOnly cookie the script cannot read. On load the page
// refreshes through that cookie, so a reload stays signed in.
'use strict';

/** The current access token, or null when signed out. */
let access = null;

const $ = (id) => document.getElementById(id);

/** The double-submit CSRF token, from the readable `__Host-authd_csrf` cookie. */
function csrfToken() {
  for (const part of document.cookie.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === '__Host-authd_csrf') return rest.join('=');
  }
  return '';
}

function setStatus(text) {
  $('status').textContent = text;
}

/** A cookie-authenticated POST to a /v1/browser endpoint. */
function browserPost(path) {
  return fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'X-CSRF-Token': csrfToken() },
  });
}

/** Takes the access token of a login or refresh answer. */
async function takeTokens(response) {
  if (!response.ok) return false;
  const body = await response.json();
  access = body.access_token;
  return true;
}

/** A bearer request; on 401 refreshes once through the cookie and retries. */
async function api(method, path) {
  const send = () =>
    fetch(path, { method, headers: { Authorization: 'Bearer ' + access } });
  let response = await send();
  if (response.status === 401 && (await takeTokens(await browserPost('/v1/browser/refresh')))) {
    response = await send();
  }
  return response;
}

function showSignin(message) {
  access = null;
  $('account').hidden = true;
  $('signin').hidden = false;
  $('sessions').replaceChildren();
  setStatus(message);
}

function cell(text) {
  const td = document.createElement('td');
  td.textContent = text == null ? '' : String(text);
  return td;
}

function when(rfc3339) {
  return new Date(rfc3339).toLocaleString();
}

async function revoke(id) {
  const response = await api('DELETE', '/v1/auth/sessions/' + encodeURIComponent(id));
  setStatus(response.ok ? 'Session revoked.' : 'Could not revoke the session.');
  await showAccount();
}

/** Shows who is signed in and their sessions. */
async function showAccount() {
  const me = await api('GET', '/v1/me');
  const list = await api('GET', '/v1/auth/sessions');
  if (!me.ok || !list.ok) {
    showSignin('Your session has ended. Please sign in.');
    return;
  }
  $('whoami').textContent = (await me.json()).email || '';
  const rows = (await list.json()).map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.sessionId = s.id;
    if (s.current) tr.className = 'current';
    tr.append(
      cell(s.device_name || s.device_id || '(unnamed device)'),
      cell(s.user_agent),
      cell(s.ip),
      cell(when(s.created_at)),
      cell(when(s.last_used_at)),
    );
    const action = document.createElement('td');
    if (s.current) {
      action.textContent = 'This device';
    } else {
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'revoke';
      button.textContent = 'Revoke';
      button.addEventListener('click', () => revoke(s.id));
      action.append(button);
    }
    tr.append(action);
    return tr;
  });
  $('sessions').replaceChildren(...rows);
  $('signin').hidden = true;
  $('account').hidden = false;
  if ($('status').textContent === 'Loading…' || $('status').textContent === '') {
    setStatus('Signed in.');
  }
}

async function signIn(event) {
  event.preventDefault();
  const body = { email: $('email').value, password: $('password').value };
  if ($('device').value) body.device_name = $('device').value;
  const response = await fetch('/v1/browser/login', {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  $('password').value = '';
  if (await takeTokens(response)) {
    setStatus('Signed in.');
    await showAccount();
  } else {
    setStatus(response.status === 401 ? 'Wrong email or password.' : 'Sign-in failed.');
  }
}

async function signOut() {
  await browserPost('/v1/browser/logout');
  showSignin('Signed out.');
}

async function signOutEverywhere() {
  await api('POST', '/v1/auth/logout-all');
  await browserPost('/v1/browser/logout');
  showSignin('Signed out everywhere.');
}

async function start() {
  $('signin').addEventListener('submit', signIn);
  $('signout').addEventListener('click', signOut);
  $('signout-all').addEventListener('click', signOutEverywhere);
  if (csrfToken() && (await takeTokens(await browserPost('/v1/browser/refresh')))) {
    setStatus('Signed in.');
    await showAccount();
  } else {
    showSignin('Signed out. Please sign in.');
  }
}

document.addEventListener('DOMContentLoaded', start);
