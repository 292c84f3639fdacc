// The REST API (docs/api.md) with the signed-in user's token.

const tokenKey = 'vigil.token';
const signedInKey = 'vigil.signed-in';  // set while the token is a session token from POST /signin

export const session = {
  get token() {
    return sessionStorage.getItem(tokenKey);
  },
  set token(value) {
    if (value) sessionStorage.setItem(tokenKey, value);
    else sessionStorage.removeItem(tokenKey);
    sessionStorage.removeItem(signedInKey);
  },
  /// Whether the token came from signing in with a name and password (and can be signed out).
  get signedIn() {
    return sessionStorage.getItem(signedInKey) === '1';
  },
  set signedIn(value) {
    if (value) sessionStorage.setItem(signedInKey, '1');
    else sessionStorage.removeItem(signedInKey);
  },
};

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/// Calls `path` under /api/v1; JSON in and out. Throws ApiError with the daemon's message.
export async function api(path, { method = 'GET', body, token = session.token, raw = false } = {}) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let response;
  try {
    response = await fetch(`/api/v1${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'the daemon cannot be reached');
  }
  if (!response.ok) {
    let error = { error: 'http', message: `${response.status} ${response.statusText}` };
    try {
      error = await response.json();
    } catch { /* not JSON */ }
    throw new ApiError(response.status, error.error, error.message);
  }
  if (raw) return response;
  return response.status === 204 ? null : response.json();
}
