// The live state of one batch, fed by three sources that may arrive in any
// order and overlap: full views from GET /api/v1/batches/{id} (polling, and
// the answers of the control endpoints), WebSocket snapshots, and WebSocket
// events (or stored events from GET …/events). Everything carries the batch's
// event sequence number, so the reducer can keep the newest state and apply
// each event exactly once:
//
//   - `seq` is the highest sequence number the state reflects (the maximum
//     over views, snapshots and applied events, as docs/live-progress.md asks);
//   - an event with seq ≤ `seq` is already reflected: it is only logged;
//   - a view or snapshot older than `seq` is ignored (it would turn the clock back);
//   - events that arrive before the first view are kept in the log and applied
//     on top of the first view that is older than them.
//
// The module is pure (no React, no I/O) so that it can be unit tested.

import type {
  Batch,
  BatchGroup,
  BatchImage,
  BatchStatus,
  ImageStatus,
  LiveClientMessage,
  LiveServerMessage,
  Progress,
  StoredEvent,
} from '../api';

/**
 * LiveEvent is one event of the batch's log. kind is the server's one
 * vocabulary (EventKind in the API document): "batch.status",
 * "batch.progress", "batch.queue", "image.<status>", "group.<status>", …
 * — the same on the WebSocket and in GET …/events.
 */
export interface LiveEvent {
  seq: number;
  kind: string;
  at?: string;
  data: Record<string, unknown>;
}

export interface LiveState {
  batch: Batch | null;
  /** Highest event sequence number reflected by batch (0 before anything). */
  seq: number;
  /** Events seen, ascending by seq, without duplicates, at most LOG_LIMIT. */
  log: LiveEvent[];
  /** Set when an applied event made the view incomplete (cost, report): the hook refetches. */
  stale: boolean;
}

export type LiveAction =
  | { type: 'view'; batch: Batch }
  | { type: 'snapshot'; seq: number; data: unknown }
  | { type: 'event'; event: LiveEvent }
  | { type: 'events'; events: LiveEvent[] }
  | { type: 'fresh' };

export const LOG_LIMIT = 200;

export const initialLive: LiveState = { batch: null, seq: 0, log: [], stale: false };

const TERMINAL_BATCH = new Set(['succeeded', 'partially_failed', 'failed', 'cancelled']);
const TERMINAL_IMAGE = new Set(['succeeded', 'failed', 'cancelled']);

export function isTerminalBatch(status: string | undefined): boolean {
  return !!status && TERMINAL_BATCH.has(status);
}

export function isTerminalImage(status: string | undefined): boolean {
  return !!status && TERMINAL_IMAGE.has(status);
}

/** Images that POST …/retry puts back in the queue. */
export function isRetryableImage(status: string | undefined): boolean {
  return status === 'failed' || status === 'cancelled' || status === 'interrupted';
}

function isObject(v: unknown): v is Record<string, unknown> {
  return !!v && typeof v === 'object' && !Array.isArray(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** imageURLs are the content URLs of a stored result (the server's own scheme). */
export function imageURLs(id: string): BatchImage['urls'] {
  const base = `/api/v1/images/${encodeURIComponent(id)}/content`;
  return { thumb: `${base}?size=thumb`, preview: `${base}?size=preview`, full: `${base}?size=full` };
}

/** computeProgress counts the images of the groups like the server does. */
export function computeProgress(groups: BatchGroup[]): Progress {
  let total = 0;
  let done = 0;
  let succeeded = 0;
  let failed = 0;
  for (const g of groups) {
    for (const im of g.images) {
      total++;
      if (isTerminalImage(im.status)) done++;
      if (im.status === 'succeeded') succeeded++;
      if (im.status === 'failed') failed++;
    }
  }
  return { total, done, succeeded, failed };
}

/** normalizeView sorts groups and images by index so the slots never jump. */
export function normalizeView(b: Batch): Batch {
  const groups = [...(b.groups ?? [])]
    .sort((a, c) => a.index - c.index)
    .map((g) => ({ ...g, images: [...(g.images ?? [])].sort((a, c) => a.index - c.index) }));
  return { ...b, groups };
}

function withoutQueue(b: Batch): Batch {
  if (!isTerminalBatch(b.status)) return b;
  const { queue_position: _q, eta_seconds: _e, ...rest } = b;
  return rest;
}

// ---- Events ------------------------------------------------------------

const IMAGE_STATUSES: readonly string[] = ['queued', 'running', 'interrupted', 'succeeded', 'failed', 'cancelled'];
const BATCH_STATUSES: readonly string[] = ['queued', 'running', 'paused', 'waiting_provider', 'succeeded', 'partially_failed', 'failed', 'cancelled'];

function imageStatus(v: unknown): ImageStatus | undefined {
  return typeof v === 'string' && IMAGE_STATUSES.includes(v) ? (v as ImageStatus) : undefined;
}

function batchStatus(v: unknown): BatchStatus | undefined {
  return typeof v === 'string' && BATCH_STATUSES.includes(v) ? (v as BatchStatus) : undefined;
}

/** The image status an event stands for: its data's status, else the kind's "image.<status>". */
function imageStatusOf(kind: string, data: Record<string, unknown>): ImageStatus | undefined {
  return imageStatus(data.status) ?? imageStatus(kind.replace(/^image\./, ''));
}

function patchImage(b: Batch, data: Record<string, unknown>, kind: string): Batch {
  const id = str(data.image_id) ?? str(data.id);
  if (!id) return b;
  const status = imageStatusOf(kind, data);
  let found = false;
  const groups = b.groups.map((g) => {
    if (!g.images.some((im) => im.id === id)) return g;
    found = true;
    return {
      ...g,
      images: g.images.map((im) => {
        if (im.id !== id) return im;
        const next: BatchImage = { ...im };
        if (status) next.status = status;
        if ('reason' in data) next.reason = str(data.reason) ?? '';
        else if (status && status !== 'failed' && status !== 'cancelled' && status !== 'interrupted') next.reason = '';
        const ps = str(data.prompt_source);
        if (ps) next.prompt_source = ps;
        const prov = str(data.provider);
        if (prov) next.provider = prov;
        if (isObject(data.urls)) next.urls = data.urls as BatchImage['urls'];
        else if (next.status === 'succeeded' && !next.urls?.thumb) next.urls = imageURLs(id);
        if (next.status !== 'succeeded' && status) next.urls = {};
        const nudged = str(data.nudged_to);
        if (nudged) next.variant = { ...next.variant, id: nudged };
        if (str(data.qc_reject)) next.qc_tries = (next.qc_tries ?? 0) + 1;
        if (data.retry === true) next.qc_tries = 0;
        return next;
      }),
    };
  });
  return found ? { ...b, groups } : b;
}

/**
 * groupStatusFromImages is what finalize decides (docs/pipeline.md): a group
 * with at least one image is succeeded; else failed, or cancelled when every
 * image was cancelled; pending while any image is unfinished.
 */
export function groupStatusFromImages(images: BatchImage[]): string {
  if (images.some((im) => !isTerminalImage(im.status))) return 'pending';
  if (images.some((im) => im.status === 'succeeded')) return 'succeeded';
  if (images.length > 0 && images.every((im) => im.status === 'cancelled')) return 'cancelled';
  return 'failed';
}

function patchGroup(b: Batch, kind: string, data: Record<string, unknown>): Batch {
  const id = str(data.group_id);
  if (!id) return b;
  // "group.succeeded" names its status (data.status too).
  const named = str(data.status) ?? kind.replace(/^group\./, '');
  return {
    ...b,
    groups: b.groups.map((g) => (g.id === id ? { ...g, status: named || groupStatusFromImages(g.images) } : g)),
  };
}

/** applyEvent folds one event into a view. Unknown kinds change nothing. */
export function applyEvent(b: Batch, ev: LiveEvent): { batch: Batch; stale: boolean } {
  const kind = ev.kind;
  const data = ev.data ?? {};
  let next = b;
  let stale = false;
  if (kind.startsWith('image.')) {
    next = patchImage(b, data, kind);
    // A result brings a cost and a new report; a view fetch fills them in.
    stale = imageStatusOf(kind, data) === 'succeeded' || imageStatusOf(kind, data) === 'failed';
  } else if (kind.startsWith('group.')) {
    next = patchGroup(b, kind, data);
    stale = true;
  } else if (kind === 'batch.status' || kind === 'batch.created') {
    const status = batchStatus(data.status);
    next = { ...b };
    if (status) next.status = status;
    if (kind !== 'batch.created') next.message = str(data.message) ?? '';
    stale = true;
  } else if (kind === 'batch.queue') {
    next = { ...b };
    const q = num(data.queue_position);
    if (q !== undefined) next.queue_position = q;
    const eta = num(data.eta_seconds);
    if (eta !== undefined) next.eta_seconds = eta;
  } else if (kind === 'batch.progress') {
    return { batch: b, stale: true };
  } else {
    return { batch: b, stale: false };
  }
  if (next !== b && next.groups.length) next = { ...next, progress: computeProgress(next.groups) };
  return { batch: withoutQueue(next), stale };
}

// ---- Snapshots -----------------------------------------------------------

function looksLikeView(d: Record<string, unknown>): boolean {
  return Array.isArray(d.groups) && typeof d.status === 'string';
}

/**
 * mergeSnapshot folds a WebSocket snapshot into a view. The server sends the
 * whole view (GET /api/v1/batches/{id}); a partial one (status, progress,
 * queue_position, eta_seconds, images) is merged field by field, images
 * matched by id.
 */
export function mergeSnapshot(b: Batch, d: Record<string, unknown>): Batch {
  let next: Batch = { ...b };
  const status = batchStatus(d.status);
  if (status) next.status = status;
  if (typeof d.message === 'string') next.message = d.message;
  if ('queue_position' in d) {
    const q = num(d.queue_position);
    if (q === undefined) delete next.queue_position;
    else next.queue_position = q;
  }
  const eta = num(d.eta_seconds);
  if (eta !== undefined) next.eta_seconds = eta;
  if (isObject(d.cost)) next.cost = d.cost as unknown as Batch['cost'];
  if (Array.isArray(d.images)) {
    for (const raw of d.images) {
      if (!isObject(raw)) continue;
      const id = str(raw.id) ?? str(raw.image_id);
      if (!id) continue;
      next = patchImage(next, { ...raw, image_id: id }, 'image.updated');
    }
  }
  if (next.groups.length) next.progress = computeProgress(next.groups);
  else if (isObject(d.progress)) next.progress = { ...next.progress, ...(d.progress as Partial<Progress>) };
  return withoutQueue(next);
}

// ---- Reducer -------------------------------------------------------------

function addToLog(log: LiveEvent[], evs: LiveEvent[]): LiveEvent[] {
  if (!evs.length) return log;
  const bySeq = new Map<number, LiveEvent>();
  for (const e of log) bySeq.set(e.seq, e);
  let changed = false;
  for (const e of evs) {
    if (!bySeq.has(e.seq)) {
      bySeq.set(e.seq, e);
      changed = true;
    }
  }
  if (!changed) return log;
  const out = [...bySeq.values()].sort((a, c) => a.seq - c.seq);
  return out.length > LOG_LIMIT ? out.slice(out.length - LOG_LIMIT) : out;
}

/** replay applies the logged events newer than the state's seq, in order. */
function replay(s: LiveState): LiveState {
  if (!s.batch) return s;
  let { batch, seq, stale } = s;
  for (const e of s.log) {
    if (e.seq <= seq) continue;
    const r = applyEvent(batch, e);
    batch = r.batch;
    stale = stale || r.stale;
    seq = e.seq;
  }
  return batch === s.batch && seq === s.seq ? s : { ...s, batch, seq, stale };
}

function applyEvents(s: LiveState, evs: LiveEvent[]): LiveState {
  const valid = evs.filter((e) => Number.isFinite(e.seq) && e.seq > 0 && typeof e.kind === 'string');
  const log = addToLog(s.log, valid);
  return replay(log === s.log ? s : { ...s, log });
}

export function liveReducer(s: LiveState, a: LiveAction): LiveState {
  switch (a.type) {
    case 'view': {
      const seq = a.batch.event_seq ?? 0;
      if (s.batch && s.batch.id === a.batch.id && seq < s.seq) return s;
      const fresh = s.batch && s.batch.id !== a.batch.id;
      const base: LiveState = {
        batch: withoutQueue(normalizeView(a.batch)),
        seq,
        log: fresh ? [] : s.log,
        stale: false,
      };
      return replay(base);
    }
    case 'snapshot': {
      if (!isObject(a.data) || !Number.isFinite(a.seq)) return s;
      if (s.batch && a.seq < s.seq) return s;
      if (looksLikeView(a.data)) {
        const b = a.data as unknown as Batch;
        return liveReducer(s, { type: 'view', batch: { ...b, event_seq: a.seq } });
      }
      if (!s.batch) return s; // a short snapshot needs a view to land on
      return replay({ ...s, batch: mergeSnapshot(s.batch, a.data), seq: Math.max(s.seq, a.seq) });
    }
    case 'event':
      return applyEvents(s, [a.event]);
    case 'events':
      return applyEvents(s, a.events);
    case 'fresh':
      return s.stale ? { ...s, stale: false } : s;
  }
}

// ---- Wire formats ----------------------------------------------------------

export type WSMessage =
  | { type: 'snapshot'; batchId: string; seq: number; data: unknown }
  | { type: 'event'; batchId: string; event: LiveEvent }
  | { type: 'error'; batchId: string; code: string; detail: string }
  | { type: 'other' };

/** clientFrame is the text of a frame the client sends (LiveClientMessage in the API document). */
export function clientFrame(m: LiveClientMessage): string {
  return JSON.stringify(m);
}

/**
 * parseWSMessage reads one text frame of GET /api/v1/ws (LiveServerMessage in
 * the API document) into the reducer's terms; anything unexpected is 'other'.
 * The frame is checked field by field: a server of another version may send
 * what this build's generated type does not know.
 */
export function parseWSMessage(text: string): WSMessage {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { type: 'other' };
  }
  if (!isObject(raw)) return { type: 'other' };
  const m = raw as Partial<Record<keyof LiveServerMessage, unknown>>;
  const batchId = str(m.batch_id) ?? '';
  switch (m.type as LiveServerMessage['type']) {
    case 'snapshot':
      return { type: 'snapshot', batchId, seq: num(m.seq) ?? 0, data: m.data };
    case 'event': {
      const seq = num(m.seq);
      const kind = str(m.kind);
      if (seq === undefined || !kind) return { type: 'other' };
      return { type: 'event', batchId, event: { seq, kind, at: str(m.at), data: isObject(m.data) ? m.data : {} } };
    }
    case 'error':
      return { type: 'error', batchId, code: str(m.code) ?? '', detail: str(m.detail) ?? '' };
  }
  return { type: 'other' };
}

/** fromStored turns GET …/events rows into LiveEvents (type is the same kind the WebSocket sends). */
export function fromStored(rows: Pick<StoredEvent, 'seq' | 'type' | 'data' | 'created_at'>[]): LiveEvent[] {
  return rows.map((r) => ({ seq: r.seq, kind: r.type, at: r.created_at, data: isObject(r.data) ? r.data : {} }));
}

/**
 * reconnectDelay is the wait before reconnect attempt n (0-based): 0.5 s
 * doubling to 30 s, with full jitter (docs/live-progress.md). random is
 * injectable for tests.
 */
export function reconnectDelay(attempt: number, random: () => number = Math.random): number {
  const cap = Math.min(30000, 500 * 2 ** Math.min(attempt, 16));
  return Math.round(random() * cap);
}
