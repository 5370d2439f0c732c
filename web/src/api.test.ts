import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiError, NETWORK_ERROR, api, problemFrom, request, setUnauthorizedHandler } from './api';
import { problemMessage } from './i18n';

type FetchArgs = [string, RequestInit];

function respond(status: number, body: unknown, headers: Record<string, string> = {}) {
  const text = body === undefined ? '' : typeof body === 'string' ? body : JSON.stringify(body);
  return new Response(status === 204 ? null : text, { status, headers });
}

let calls: FetchArgs[];
function mockFetch(fn: (url: string, init: RequestInit) => Response | Promise<Response>) {
  calls = [];
  vi.stubGlobal('fetch', (url: string, init: RequestInit) => {
    calls.push([url, init]);
    return Promise.resolve(fn(url, init));
  });
}

beforeEach(() => setUnauthorizedHandler(null));
afterEach(() => vi.unstubAllGlobals());

const problem = {
  type: 'https://ludeng.dev/problems/login_throttled',
  title: 'Too Many Requests',
  status: 429,
  detail: 'Too many requests; retry later.',
  code: 'login_throttled',
  params: { retry_after_seconds: 30 },
  request_id: 'req-123',
};

describe('request', () => {
  it('sends JSON with the same-origin cookie and parses the answer', async () => {
    mockFetch(() => respond(200, { user: { id: 'u1', username: 'alice', role: 'admin' } }, { 'Content-Type': 'application/json' }));
    const r = await api.login('alice', 'secret-password');
    expect(r.user.username).toBe('alice');
    const [url, init] = calls[0];
    expect(url).toBe('/api/v1/auth/login');
    expect(init.method).toBe('POST');
    expect(init.credentials).toBe('same-origin');
    expect((init.headers as Record<string, string>)['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body as string)).toEqual({ username: 'alice', password: 'secret-password' });
  });

  it('returns undefined for 204', async () => {
    mockFetch(() => respond(204, undefined));
    await expect(api.revokeToken('t/1')).resolves.toBeUndefined();
    expect(calls[0][0]).toBe('/api/v1/auth/tokens/t%2F1');
  });

  it('turns a problem+json answer into an ApiError with every field', async () => {
    mockFetch(() => respond(429, problem, { 'Content-Type': 'application/problem+json' }));
    const err = await api.login('a', 'b').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    const e = err as ApiError;
    expect(e.status).toBe(429);
    expect(e.code).toBe('login_throttled');
    expect(e.params).toEqual({ retry_after_seconds: 30 });
    expect(e.request_id).toBe('req-123');
    expect(e.detail).toBe('Too many requests; retry later.');
    expect(problemMessage('zh-CN', e)).toBe('登录失败次数过多，请 30 秒后再试');
  });

  it('handles a non-JSON error body (a proxy page) with the status only', async () => {
    mockFetch(() => respond(502, '<html>Bad Gateway</html>', { 'Content-Type': 'text/html', 'X-Request-Id': 'edge-9' }));
    const e = (await api.meta().catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.status).toBe(502);
    expect(e.code).toBe('');
    expect(e.request_id).toBe('edge-9');
    expect(problemMessage('en', { ...e, title: '' })).toBe('Request failed (HTTP 502)');
  });

  it('reports a network failure as code network_error', async () => {
    vi.stubGlobal('fetch', () => Promise.reject(new TypeError('Failed to fetch')));
    const e = (await api.meta().catch((x: unknown) => x)) as ApiError;
    expect(e.code).toBe(NETWORK_ERROR);
    expect(e.status).toBe(0);
    expect(problemMessage('zh-CN', e)).toBe('网络连接失败，请检查网络后重试');
  });

  it('calls the unauthorized handler on 401 except for quiet calls', async () => {
    const seen: string[] = [];
    setUnauthorizedHandler((e) => seen.push(e.code));
    const p401 = { ...problem, status: 401, code: 'unauthenticated', params: undefined };
    mockFetch(() => respond(401, p401));
    await expect(api.listTokens()).rejects.toBeInstanceOf(ApiError);
    expect(seen).toEqual(['unauthenticated']);
    await expect(api.me()).rejects.toBeInstanceOf(ApiError);
    await expect(api.login('x', 'y')).rejects.toBeInstanceOf(ApiError);
    expect(seen).toEqual(['unauthenticated']);
  });

  it('rejects a 200 answer that is not JSON', async () => {
    mockFetch(() => respond(200, '<html>index</html>'));
    await expect(request('GET', '/api/v1/meta')).rejects.toBeInstanceOf(ApiError);
  });

  it('builds query strings without empty values', async () => {
    mockFetch(() => respond(200, { items: [], categories: [] }));
    await api.elements({ zone: 'warm_temperate', month: 7, road: '' });
    expect(calls[0][0]).toBe('/api/v1/pool/elements?zone=warm_temperate&month=7');
    mockFetch(() => respond(200, { items: [], next_cursor: '' }));
    await api.listUsers(undefined, 50);
    expect(calls[0][0]).toBe('/api/v1/admin/users?limit=50');
  });
});

describe('problemFrom', () => {
  it('ignores malformed fields', () => {
    const e = problemFrom(400, 'Bad Request', { code: 5, params: ['x'], detail: null });
    expect(e.code).toBe('');
    expect(e.params).toBeNull();
    expect(e.detail).toBe('');
    expect(e.title).toBe('Bad Request');
  });
  it('prefers the response status over the body', () => {
    expect(problemFrom(409, 'Conflict', { status: 200, code: 'username_taken' }).status).toBe(409);
  });
});
