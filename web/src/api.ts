// The ludeng REST client. Same origin, cookie session: every request sends
// the cookie (credentials: 'same-origin'); the server's cross-origin
// protection needs nothing more. Every failure becomes an ApiError carrying
// the RFC 9457 problem fields, so the UI can translate it by `code`.

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  params: Record<string, unknown> | null;
  request_id: string;
}

export class ApiError extends Error implements Problem {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly params: Record<string, unknown> | null;
  readonly request_id: string;

  constructor(p: Problem) {
    super(p.detail || p.title || `HTTP ${p.status}`);
    this.name = 'ApiError';
    this.type = p.type;
    this.title = p.title;
    this.status = p.status;
    this.detail = p.detail;
    this.code = p.code;
    this.params = p.params;
    this.request_id = p.request_id;
  }
}

export function isApiError(e: unknown): e is ApiError {
  return e instanceof ApiError;
}

/** The code of a network failure (no HTTP response at all). */
export const NETWORK_ERROR = 'network_error';

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

/**
 * problemFrom builds the ApiError of a failed response. It accepts a body
 * that is a problem document, any other JSON, or nothing parseable (a proxy's
 * HTML error page): then the code is empty and the UI falls back to a generic
 * "HTTP <status>" text. The response's status wins over the body's.
 */
export function problemFrom(status: number, statusText: string, body: unknown, requestIdHeader?: string | null): ApiError {
  const b = body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const params = b.params && typeof b.params === 'object' && !Array.isArray(b.params) ? (b.params as Record<string, unknown>) : null;
  return new ApiError({
    type: str(b.type) || 'about:blank',
    title: str(b.title) || statusText,
    status,
    detail: str(b.detail),
    code: str(b.code),
    params,
    request_id: str(b.request_id) || requestIdHeader || '',
  });
}

type UnauthorizedHandler = (e: ApiError) => void;
let onUnauthorized: UnauthorizedHandler | null = null;

/**
 * setUnauthorizedHandler registers what happens when a signed-in call answers
 * 401 (the session expired or was revoked): the app shows the login page.
 */
export function setUnauthorizedHandler(h: UnauthorizedHandler | null): void {
  onUnauthorized = h;
}

export interface RequestOptions {
  /** Do not call the unauthorized handler on 401 (login, the initial /me probe). */
  quiet401?: boolean;
  signal?: AbortSignal;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, application/problem+json' };
  const init: RequestInit = { method, headers, credentials: 'same-origin', signal: opts.signal };
  if (body instanceof FormData) {
    // The browser sets the multipart Content-Type with its boundary.
    init.body = body;
  } else if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (e instanceof DOMException && e.name === 'AbortError') throw e;
    throw new ApiError({
      type: 'about:blank',
      title: 'Network error',
      status: 0,
      detail: e instanceof Error ? e.message : String(e),
      code: NETWORK_ERROR,
      params: null,
      request_id: '',
    });
  }
  if (res.status === 204 || res.status === 205) return undefined as T;
  const text = await res.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
  }
  if (!res.ok) {
    const err = problemFrom(res.status, res.statusText, parsed, res.headers.get('X-Request-Id'));
    if (res.status === 401 && !opts.quiet401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  if (parsed === undefined && text) {
    throw problemFrom(res.status, 'Unexpected response', { detail: 'The server answered with something that is not JSON.' });
  }
  return parsed as T;
}

// ---- Types of the API resources ----------------------------------------

export type Role = 'admin' | 'operator';

export interface User {
  id: string;
  username: string;
  role: Role;
  disabled?: boolean;
  created_at?: string;
  updated_at?: string;
}

export interface Meta {
  version: string;
  build: string;
  simulated: boolean;
  currency: string;
  limits: Record<string, unknown> | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string;
}

export interface ApiToken {
  id: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface AdminUser {
  id: string;
  username: string;
  role: Role;
  disabled: boolean;
  created_at: string;
  updated_at: string;
}

export interface AuditEntry {
  id: string;
  at: string;
  actor_name: string;
  action: string;
  target_type: string;
  target_id: string;
  detail?: Record<string, unknown> | null;
  ip?: string;
  request_id?: string;
}

export interface Province {
  code: string;
  name: string;
  short: string;
  pinyin: string;
  county_count: number;
}

export interface Term {
  zh: string;
  en: string;
  kind?: string;
}

export interface Region {
  code: string;
  name: string;
  pinyin: string;
  province_code: string;
  province_name: string;
  prefecture: { code: string; name: string; pinyin?: string };
  lat: number;
  lon: number;
  zone: string;
  terrain: Term[];
  crops: Term[];
  plants: Term[];
  architecture: Term[];
  water: Term[];
  landmarks: Term[];
  aliases?: { name: string; code?: string; pinyin?: string; note?: string }[] | null;
  /** Search results only: what matched best ("name", "alias", "old_code", "code", "prefecture", "province") and its text. */
  matched_field?: string;
  matched_text?: string;
}

export interface Road {
  id: string;
  zh: string;
  en: string;
}

export interface Element {
  id: string;
  category: string;
  zh: string;
  en: string;
}

export interface Category {
  id: string;
  zh: string;
  en: string;
}

export interface PoolVersion {
  /** Content hash of the pool. */
  version: string;
  /** Sequence number of the stored version. */
  number?: number;
  /** When this version was loaded (the server calls it loaded_at; the first contract said imported_at). */
  loaded_at?: string;
  imported_at?: string;
}

// ---- Uploads, batches, usage -------------------------------------------

/** A money amount as the API writes it: a decimal string and the currency. */
export interface Money {
  amount: string;
  currency: string;
}

export interface UploadWarning {
  code: string;
  detail: string;
  params?: Record<string, unknown> | null;
}

export interface Upload {
  id: string;
  sha256: string;
  mime: string;
  width: number;
  height: number;
  bytes: number;
  filename: string;
  warnings?: UploadWarning[] | null;
  created_at: string;
  urls: { thumb?: string; preview?: string; full?: string };
}

export interface SceneLabel {
  id: string;
  zh: string;
  en: string;
}

/** Scene names a combination for people. */
export interface Scene {
  county: string;
  county_pinyin: string;
  prefecture: string;
  province: string;
  zone: string;
  season: string;
  snow_cover: boolean;
  road: SceneLabel;
  elements: SceneLabel[];
}

export interface Combination {
  county_code: string;
  province_code: string;
  month: number;
  road: string;
  elements: string[];
}

export interface PlanVariant {
  id: string;
  time: string;
  weather: string;
}

export interface PlanGroup {
  index: number;
  combination: Combination;
  key: string;
  min_distance?: number;
  scene: Scene;
  variants: PlanVariant[];
}

export interface Plan {
  mode: 'smart' | 'manual';
  seed: number;
  pool_version: string;
  allow_same_province: boolean;
  groups: PlanGroup[];
}

export interface Estimate {
  images: number;
  per_image?: Money;
  total: Money;
}

export interface DryRunResult {
  dry_run: true;
  plan: Plan;
  estimate: Estimate;
}

export type Aspect = '3:4' | '9:16' | '1:1';
export type Enhance = 'off' | 'creative' | 'balanced' | 'precise';
export type Priority = 'low' | 'normal' | 'high';

export interface SmartFilters {
  provinces?: string[];
  months?: number[];
  roads?: string[];
  element_categories?: string[];
}

/** The body of POST /api/v1/batches. */
export interface SubmitBody {
  upload_id: string;
  mode: 'smart' | 'manual';
  groups?: number;
  manual?: { county: string; month: number; road: string; elements: string[] };
  filters?: SmartFilters;
  allow_same_province?: boolean;
  aspect?: Aspect;
  resolution?: 1024 | 1536;
  enhance?: Enhance;
  priority?: Priority;
  budget?: string;
  seed?: number;
  dry_run?: boolean;
}

export type BatchStatus = 'queued' | 'running' | 'paused' | 'waiting_provider' | 'succeeded' | 'partially_failed' | 'failed' | 'cancelled';
export type ImageStatus = 'queued' | 'running' | 'interrupted' | 'succeeded' | 'failed' | 'cancelled';

export interface BatchImage {
  id: string;
  index: number;
  status: ImageStatus | string;
  variant: { id: string; time?: string; weather?: string; base?: string };
  prompt_source?: string;
  reason?: string;
  qc_tries?: number;
  width?: number;
  height?: number;
  provider?: string;
  urls: { thumb?: string; card?: string; preview?: string; full?: string; download?: string };
  starred?: boolean;
  versions?: number;
  instruction?: string;
  prompt?: string;
  file_name?: string;
  label_zh?: string;
}

export interface BatchGroup {
  id: string;
  index: number;
  key: string;
  status: string;
  combination: Combination;
  scene: Scene;
  images: BatchImage[];
  download: string;
  note?: GroupNote | null;
  progress?: { succeeded: number; total: number };
}

export interface GroupNote {
  group_id: string;
  tone: string;
  title: string;
  body: string;
  hashtags: string[];
  source: 'deepseek' | 'template' | 'edited' | string;
  fallback_reason?: string;
  updated_at: string;
  text: string;
}

export interface ImageVersion {
  id: string;
  current: boolean;
  instruction: string;
  provider: string;
  width: number;
  height: number;
  created_at: string;
  urls: { card?: string; preview?: string; full?: string };
}

export interface PostKitTone {
  id: string;
  zh: string;
  en: string;
}

export interface Progress {
  done: number;
  total: number;
  succeeded: number;
  failed: number;
}

export interface Batch {
  id: string;
  status: BatchStatus | string;
  mode: 'smart' | 'manual' | string;
  seed: number;
  upload_id: string;
  message: string;
  params: { aspect?: string; resolution?: number; enhance?: string; priority?: string; budget?: string; rerun_of?: string } | null;
  created_at: string;
  updated_at?: string;
  started_at?: string | null;
  finished_at?: string | null;
  groups: BatchGroup[];
  progress: Progress;
  estimate: { images: number; total: Money; per_image?: Money };
  cost: Money;
  budget?: Money;
  report?: { counts: Record<string, number>; reasons: Record<string, number>; qc_rejects: Record<string, number> };
  event_seq: number;
  pool_version?: string;
  queue_position?: number;
  eta_seconds?: number;
  download: string;
  name?: string;
  default_name?: string;
  archived?: boolean;
  starred_download?: string;
}

export interface BatchSummary {
  id: string;
  status: BatchStatus | string;
  mode: string;
  groups: number;
  scenes: Scene[] | null;
  created_at: string;
  finished_at?: string | null;
  estimate: Money;
  name?: string;
  archived?: boolean;
}

export interface StoredEvent {
  batch_id: string;
  seq: number;
  type: string;
  data: Record<string, unknown> | null;
  created_at: string;
}

export interface UsageRow {
  day: string;
  provider: string;
  cost: Money;
  images: number;
}

export interface Usage {
  items: UsageRow[];
  spent_today: Money;
  spent_this_month: Money;
  remaining_today?: Money;
  remaining_this_month?: Money;
}

export interface SignedLink {
  url: string;
  expires_at: string;
}

// ---- Presets and webhooks ----------------------------------------------

/** Saved batch settings: a batch request without upload_id, seed and dry_run (stored normalised). */
export interface PresetSettings {
  mode: 'smart' | 'manual';
  groups?: number;
  manual?: { county: string; month: number; road: string; elements: string[] } | null;
  filters?: SmartFilters | null;
  allow_same_province?: boolean;
  aspect?: Aspect;
  resolution?: 1024 | 1536;
  enhance?: Enhance;
  priority?: Priority;
  budget?: string;
}

export interface Preset {
  id: string;
  name: string;
  settings: PresetSettings;
  created_at: string;
  updated_at: string;
}

export type WebhookEvent = 'batch.done' | 'group.done';

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  created_at: string;
  updated_at: string;
  /** Only in the answer of the PUT that creates the webhook or rotates its secret. */
  secret?: string;
}

export interface WebhookDelivery {
  id: string;
  event: WebhookEvent | 'ping' | string;
  batch_id: string | null;
  status: 'pending' | 'delivered' | 'failed' | string;
  attempts: number;
  last_status_code: number | null;
  last_error: string;
  created_at: string;
  last_attempt_at: string | null;
  delivered_at: string | null;
}

export interface BatchListFilter {
  status?: string;
  archived?: 'true' | 'false' | 'all';
  mode?: string;
  q?: string;
  cursor?: string;
  limit?: number;
}

const enc = encodeURIComponent;

function query(params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

export const api = {
  meta: () => request<Meta>('GET', '/api/v1/meta'),

  login: (username: string, password: string) =>
    request<{ user: User }>('POST', '/api/v1/auth/login', { username, password }, { quiet401: true }),
  logout: () => request<void>('POST', '/api/v1/auth/logout', undefined, { quiet401: true }),
  me: () => request<{ user: User }>('GET', '/api/v1/auth/me', undefined, { quiet401: true }),
  changePassword: (current_password: string, new_password: string) =>
    request<void>('PUT', '/api/v1/auth/password', { current_password, new_password }),

  listTokens: () => request<Page<ApiToken>>('GET', '/api/v1/auth/tokens'),
  createToken: (name: string, expires_in: string) =>
    request<{ token: string; api_token: ApiToken }>('POST', '/api/v1/auth/tokens', expires_in ? { name, expires_in } : { name }),
  revokeToken: (id: string) => request<void>('DELETE', `/api/v1/auth/tokens/${enc(id)}`),

  listUsers: (cursor?: string, limit = 50) => request<Page<AdminUser>>('GET', '/api/v1/admin/users' + query({ limit, cursor })),
  createUser: (username: string, password: string, role: Role) =>
    request<AdminUser>('POST', '/api/v1/admin/users', { username, password, role }),
  updateUser: (id: string, patch: { role?: Role; disabled?: boolean; password?: string }) =>
    request<AdminUser>('PATCH', `/api/v1/admin/users/${enc(id)}`, patch),
  listAudit: (cursor?: string, limit = 50) => request<Page<AuditEntry>>('GET', '/api/v1/admin/audit' + query({ limit, cursor })),

  provinces: () => request<{ items: Province[] }>('GET', '/api/v1/pool/provinces'),
  counties: (provinceCode: string) => request<{ items: Region[] }>('GET', `/api/v1/pool/provinces/${enc(provinceCode)}/counties`),
  searchRegions: (q: string, signal?: AbortSignal, limit?: number) =>
    request<{ items: Region[] }>('GET', '/api/v1/pool/regions' + query({ q, limit }), undefined, { signal }),
  roads: () => request<{ items: Road[] }>('GET', '/api/v1/pool/roads'),
  elements: (f: { zone?: string; month?: number; road?: string }) =>
    request<{ items: Element[]; categories: Category[] }>('GET', '/api/v1/pool/elements' + query(f)),
  poolVersion: () => request<PoolVersion>('GET', '/api/v1/pool/version'),

  upload: (file: File) => {
    const form = new FormData();
    form.append('file', file, file.name);
    return request<Upload>('POST', '/api/v1/uploads', form);
  },

  planBatch: (body: SubmitBody) => request<DryRunResult>('POST', '/api/v1/batches', { ...body, dry_run: true }),
  createBatch: (body: SubmitBody) => request<Batch>('POST', '/api/v1/batches', { ...body, dry_run: false }),
  batch: (id: string, signal?: AbortSignal) => request<Batch>('GET', `/api/v1/batches/${enc(id)}`, undefined, { signal }),
  listBatches: (f: BatchListFilter) => request<Page<BatchSummary>>('GET', '/api/v1/batches' + query({ ...f })),
  batchEvents: (id: string, after: number) =>
    request<{ items: StoredEvent[]; last_seq: number }>('GET', `/api/v1/batches/${enc(id)}/events` + query({ after })),
  batchAction: (id: string, action: 'cancel' | 'pause' | 'resume' | 'retry') => request<Batch>('POST', `/api/v1/batches/${enc(id)}/${action}`),
  retryGroup: (id: string, groupId: string) => request<Batch>('POST', `/api/v1/batches/${enc(id)}/groups/${enc(groupId)}/retry`),
  rerunBatch: (id: string) => request<Batch>('POST', `/api/v1/batches/${enc(id)}/rerun`),
  batchLink: (id: string, body: { expires_in?: string; group_id?: string }) =>
    request<SignedLink>('POST', `/api/v1/batches/${enc(id)}/links`, body),
  archiveHistory: () => request<{ archived: number }>('POST', '/api/v1/history/archive', {}),
  patchBatch: (id: string, body: { name?: string; archived?: boolean }) =>
    request<{ id: string; name: string; archived: boolean }>('PATCH', `/api/v1/batches/${enc(id)}`, body),
  deleteBatch: (id: string) => request<void>('DELETE', `/api/v1/batches/${enc(id)}`),
  starImage: (id: string, starred: boolean) => request<{ image_id: string; starred: boolean }>('PUT', `/api/v1/images/${enc(id)}/star`, { starred }),
  regenerateImage: (id: string, instruction: string) => request<Batch>('POST', `/api/v1/images/${enc(id)}/regenerate`, { instruction }),
  imageVersions: (id: string) => request<{ items: ImageVersion[] }>('GET', `/api/v1/images/${enc(id)}/versions`),
  selectVersion: (id: string, vid: string) => request<Batch>('POST', `/api/v1/images/${enc(id)}/versions/${enc(vid)}/select`),
  postKitTones: () => request<{ items: PostKitTone[] }>('GET', '/api/v1/post-kit/tones'),
  writeNote: (id: string, gid: string, tone: string) => request<GroupNote>('POST', `/api/v1/batches/${enc(id)}/groups/${enc(gid)}/note`, { tone }),
  editNote: (id: string, gid: string, body: { tone: string; title: string; body: string; hashtags: string[] }) =>
    request<GroupNote>('PUT', `/api/v1/batches/${enc(id)}/groups/${enc(gid)}/note`, body),
  usage: () => request<Usage>('GET', '/api/v1/usage'),

  listPresets: (cursor?: string, limit = 200) => request<Page<Preset>>('GET', '/api/v1/presets' + query({ limit, cursor })),
  createPreset: (name: string, settings: PresetSettings) => request<Preset>('POST', '/api/v1/presets', { name, settings }),
  updatePreset: (id: string, patch: { name?: string; settings?: PresetSettings }) =>
    request<Preset>('PATCH', `/api/v1/presets/${enc(id)}`, patch),
  deletePreset: (id: string) => request<void>('DELETE', `/api/v1/presets/${enc(id)}`),

  webhook: () => request<Webhook>('GET', '/api/v1/me/webhook'),
  putWebhook: (body: { url: string; events: WebhookEvent[]; rotate_secret?: boolean }) => request<Webhook>('PUT', '/api/v1/me/webhook', body),
  deleteWebhook: () => request<void>('DELETE', '/api/v1/me/webhook'),
  testWebhook: () => request<WebhookDelivery>('POST', '/api/v1/me/webhook/test'),
  webhookDeliveries: (cursor?: string, limit = 20) =>
    request<Page<WebhookDelivery>>('GET', '/api/v1/me/webhook/deliveries' + query({ limit, cursor })),
};
