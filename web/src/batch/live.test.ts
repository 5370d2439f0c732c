import { describe, expect, it } from 'vitest';
import type { Batch, BatchGroup, BatchImage, ImageStatus } from '../api';
import {
  LOG_LIMIT,
  applyEvent,
  computeProgress,
  fromStored,
  groupStatusFromImages,
  initialLive,
  isRetryableImage,
  isTerminalBatch,
  liveReducer,
  parseWSMessage,
  reconnectDelay,
  type LiveEvent,
  type LiveState,
} from './live';

function img(id: string, index: number, status: ImageStatus = 'queued', extra: Partial<BatchImage> = {}): BatchImage {
  return {
    id,
    index,
    status,
    variant: { id: 'v' + index, time: 'morning', weather: 'sunny' },
    prompt_source: 'template',
    reason: '',
    qc_tries: 0,
    qc: [],
    width: 0,
    height: 0,
    provider: '',
    urls: {},
    starred: false,
    versions: 0,
    instruction: '',
    prompt: '',
    ...extra,
  };
}

/** A 2-group batch (g1: i1–i4, g2: i5–i8) at event_seq seq. */
function view(seq: number, patch: Partial<Batch> = {}, statuses: Record<string, ImageStatus> = {}): Batch {
  const mk = (gid: string, index: number, ids: string[]): BatchGroup => ({
    id: gid,
    index,
    key: 'k' + gid,
    status: 'pending',
    combination: { county_code: '130503', province_code: '130000', month: 7, road: 'dirt', elements: ['tricycle'] },
    scene: {
      county: '信都区',
      county_pinyin: 'Xindu Qu',
      prefecture: '邢台市',
      province: '河北省',
      zone: 'warm_temperate',
      season: 'summer',
      snow_cover: false,
      road: { id: 'dirt', zh: '土路', en: 'a dirt road' },
      elements: [{ id: 'tricycle', zh: '三轮车', en: 'a tricycle' }],
    },
    // Out of order on purpose: the reducer sorts by index.
    images: ids.map((id, i) => img(id, i, statuses[id] ?? 'queued')).reverse(),
    download: `/api/v1/batches/b1/groups/${gid}/download`,
    note: null,
    progress: { succeeded: 0, total: ids.length },
  });
  const groups = [mk('g2', 1, ['i5', 'i6', 'i7', 'i8']), mk('g1', 0, ['i1', 'i2', 'i3', 'i4'])];
  return {
    id: 'b1',
    status: 'running',
    mode: 'smart',
    seed: 1,
    upload_id: 'u1',
    message: '',
    params: { aspect: '3:4', resolution: 1024, enhance: 'balanced', priority: 'normal' },
    created_at: '2026-11-28T10:00:00Z',
    updated_at: '2026-11-28T10:00:00Z',
    started_at: null,
    finished_at: null,
    report: { counts: {}, reasons: {}, qc_rejects: {} },
    pool_version: 'p1',
    name: '',
    default_name: '',
    archived: false,
    starred_download: '/api/v1/batches/b1/download?starred=true',
    groups,
    progress: computeProgress(groups),
    estimate: { images: 8, total: { amount: '0.00', currency: 'CNY' } },
    cost: { amount: '0.00', currency: 'CNY' },
    event_seq: seq,
    queue_position: 3,
    eta_seconds: 60,
    download: '/api/v1/batches/b1/download',
    ...patch,
  };
}

function ev(seq: number, kind: string, data: Record<string, unknown>): LiveEvent {
  return { seq, kind, data };
}

function image(s: LiveState, id: string): BatchImage {
  for (const g of s.batch!.groups) for (const im of g.images) if (im.id === id) return im;
  throw new Error('no image ' + id);
}

const run = (s: LiveState, ...actions: Parameters<typeof liveReducer>[1][]) => actions.reduce(liveReducer, s);

describe('liveReducer: views (polling)', () => {
  it('takes the first view, sorted by index', () => {
    const s = liveReducer(initialLive, { type: 'view', batch: view(5) });
    expect(s.seq).toBe(5);
    expect(s.batch!.groups.map((g) => g.id)).toEqual(['g1', 'g2']);
    expect(s.batch!.groups[0].images.map((i) => i.id)).toEqual(['i1', 'i2', 'i3', 'i4']);
  });

  it('replaces the state with a newer or equal view, ignores an older one', () => {
    let s = liveReducer(initialLive, { type: 'view', batch: view(5) });
    s = liveReducer(s, { type: 'view', batch: view(5, { queue_position: 1 }) });
    expect(s.batch!.queue_position).toBe(1);
    const before = s;
    s = liveReducer(s, { type: 'view', batch: view(4, { status: 'queued' }) });
    expect(s).toBe(before);
  });

  it('drops queue position and ETA of a finished batch', () => {
    const s = liveReducer(initialLive, { type: 'view', batch: view(9, { status: 'succeeded' }) });
    expect(s.batch!.queue_position).toBeUndefined();
    expect(s.batch!.eta_seconds).toBeUndefined();
  });
});

describe('liveReducer: events', () => {
  it('applies image events in order and recomputes the progress', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(5) }),
      { type: 'event', event: ev(6, 'image.running', { image_id: 'i1', group_id: 'g1', status: 'running' }) },
      { type: 'event', event: ev(7, 'image.succeeded', { image_id: 'i1', group_id: 'g1', status: 'succeeded', provider: 'simulator' }) },
      { type: 'event', event: ev(8, 'image.failed', { image_id: 'i2', group_id: 'g1', status: 'failed', reason: 'budget_cap' }) },
    );
    expect(s.seq).toBe(8);
    expect(image(s, 'i1').status).toBe('succeeded');
    expect(image(s, 'i1').urls.thumb).toBe('/api/v1/images/i1/content?size=thumb');
    expect(image(s, 'i1').provider).toBe('simulator');
    expect(image(s, 'i2')).toMatchObject({ status: 'failed', reason: 'budget_cap' });
    expect(s.batch!.progress).toEqual({ total: 8, done: 2, succeeded: 1, failed: 1 });
    expect(s.log.map((e) => e.seq)).toEqual([6, 7, 8]);
    expect(s.stale).toBe(true); // a result has a cost: the hook refetches the view
  });

  it('dedupes by seq: a replayed event is logged once and applied once', () => {
    const e = ev(6, 'image.queued', { image_id: 'i1', group_id: 'g1', status: 'queued', qc_reject: 'similar_phash', nudged_to: 'sunny_noon', reason: 'similar_phash' });
    let s = run(liveReducer(initialLive, { type: 'view', batch: view(5) }), { type: 'event', event: e });
    expect(image(s, 'i1').qc_tries).toBe(1);
    const once = s;
    s = run(s, { type: 'event', event: e }, { type: 'events', events: [e, e] });
    expect(s).toBe(once);
    expect(image(s, 'i1')).toMatchObject({ qc_tries: 1, variant: { id: 'sunny_noon' } });
  });

  it('only logs events the view already reflects', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(10, {}, { i1: 'succeeded' }) }),
      { type: 'event', event: ev(4, 'image.failed', { image_id: 'i1', status: 'failed' }) },
    );
    expect(image(s, 'i1').status).toBe('succeeded');
    expect(s.seq).toBe(10);
    expect(s.log.map((e) => e.seq)).toEqual([4]);
  });

  it('applies events that arrived before the first view on top of it', () => {
    const s = run(
      initialLive,
      { type: 'event', event: ev(6, 'image.succeeded', { image_id: 'i5', group_id: 'g2', status: 'succeeded' }) },
      { type: 'event', event: ev(7, 'batch.status', { status: 'paused' }) },
      { type: 'view', batch: view(6, {}, { i5: 'succeeded' }) },
    );
    expect(s.seq).toBe(7);
    expect(s.batch!.status).toBe('paused');
    expect(image(s, 'i5').status).toBe('succeeded');
  });

  it('keeps a newer event state when a slower poll answers with an older view', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(5) }),
      { type: 'event', event: ev(6, 'image.succeeded', { image_id: 'i3', status: 'succeeded' }) },
      { type: 'view', batch: view(5) },
    );
    expect(image(s, 'i3').status).toBe('succeeded');
    expect(s.seq).toBe(6);
  });

  it('handles batch, group and retry events', () => {
    let s = run(
      liveReducer(initialLive, { type: 'view', batch: view(5, { status: 'partially_failed' }, { i1: 'failed' }) }),
      { type: 'event', event: ev(6, 'image.queued', { image_id: 'i1', status: 'queued', retry: true }) },
      { type: 'event', event: ev(7, 'batch.status', { status: 'queued', retry: 1 }) },
      { type: 'event', event: ev(8, 'group.succeeded', { group_id: 'g2' }) },
    );
    expect(image(s, 'i1')).toMatchObject({ status: 'queued', reason: '', qc_tries: 0 });
    expect(s.batch!.status).toBe('queued');
    expect(s.batch!.groups[1].status).toBe('succeeded');
    s = liveReducer(s, { type: 'event', event: ev(9, 'batch.status', { status: 'failed', message: 'The batch reached its budget cap; paid calls stopped.' }) });
    expect(s.batch!.message).toContain('budget cap');
    expect(s.batch!.queue_position).toBeUndefined();
  });

  it('understands the event kinds of docs/live-progress.md (the stored ones, on the WebSocket too)', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(1) }),
      { type: 'event', event: ev(2, 'image.running', { image_id: 'i1', status: 'running' }) },
      { type: 'event', event: ev(3, 'image.succeeded', { image_id: 'i2', status: 'succeeded', urls: { thumb: '/t', preview: '/p', full: '/f' } }) },
      { type: 'event', event: ev(4, 'image.failed', { image_id: 'i3', status: 'failed', reason: 'blank' }) },
      { type: 'event', event: ev(5, 'batch.queue', { queue_position: 0, eta_seconds: 12 }) },
      { type: 'event', event: ev(6, 'something.new', { x: 1 }) },
    );
    expect(image(s, 'i1').status).toBe('running');
    expect(image(s, 'i2')).toMatchObject({ status: 'succeeded', urls: { thumb: '/t' } });
    expect(image(s, 'i3')).toMatchObject({ status: 'failed', reason: 'blank' });
    expect(s.batch!.queue_position).toBe(0);
    expect(s.batch!.eta_seconds).toBe(12);
    expect(s.seq).toBe(6);
  });

  it('speaks one naming scheme: the retired WebSocket aliases change nothing', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(1) }),
      { type: 'event', event: ev(2, 'image_done', { image_id: 'i1' }) },
      { type: 'event', event: ev(3, 'queue_position', { queue_position: 0 }) },
      { type: 'event', event: ev(4, 'batch_done', { status: 'cancelled' }) },
    );
    expect(image(s, 'i1').status).toBe('queued');
    expect(s.batch!.queue_position).toBe(3);
    expect(s.batch!.status).toBe('running');
  });

  it('folds image, group and batch kinds like the server stores them', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(1) }),
      { type: 'event', event: ev(2, 'batch.status', { status: 'running' }) },
      { type: 'event', event: ev(3, 'image.queued', { image_id: 'i5', group_id: 'g2', status: 'queued', qc_reject: 'blank', reason: 'blank' }) },
      { type: 'event', event: ev(4, 'image.updated', { image_id: 'i6', group_id: 'g2', prompt_source: 'deepseek' }) },
      ...['i5', 'i6', 'i7', 'i8'].map((id, i) => ({ type: 'event' as const, event: ev(5 + i, 'image.cancelled', { image_id: id, status: 'cancelled', reason: 'cancelled' }) })),
      { type: 'event', event: ev(9, 'group.cancelled', { group_id: 'g2', status: 'cancelled' }) },
      { type: 'event', event: ev(10, 'image.succeeded', { image_id: 'i1', group_id: 'g1', status: 'succeeded', urls: { thumb: '/t1' } }) },
      { type: 'event', event: ev(11, 'batch.status', { status: 'cancelled', message: 'Cancelled by the user.' }) },
    );
    expect(image(s, 'i6')).toMatchObject({ status: 'cancelled', prompt_source: 'deepseek' });
    expect(image(s, 'i5').qc_tries).toBe(1);
    expect(s.batch!.groups[1].status).toBe('cancelled');
    expect(s.batch!.groups[0].status).toBe('pending');
    expect(s.batch!).toMatchObject({ status: 'cancelled', message: 'Cancelled by the user.' });
  });

  it('derives a group status like finalize does', () => {
    expect(groupStatusFromImages([img('a', 0, 'succeeded'), img('b', 1, 'failed')])).toBe('succeeded');
    expect(groupStatusFromImages([img('a', 0, 'failed'), img('b', 1, 'cancelled')])).toBe('failed');
    expect(groupStatusFromImages([img('a', 0, 'cancelled')])).toBe('cancelled');
    expect(groupStatusFromImages([img('a', 0, 'running'), img('b', 1, 'succeeded')])).toBe('pending');
  });

  it('ignores events about images it does not know', () => {
    const b = liveReducer(initialLive, { type: 'view', batch: view(1) }).batch!;
    const r = applyEvent(b, ev(2, 'image.succeeded', { image_id: 'nope', status: 'succeeded' }));
    expect(r.batch.groups).toBe(b.groups);
  });

  it('keeps the log bounded and sorted', () => {
    const evs = Array.from({ length: LOG_LIMIT + 50 }, (_, i) => ev(LOG_LIMIT + 50 - i, 'image.updated', { image_id: 'i1' }));
    const s = liveReducer(liveReducer(initialLive, { type: 'view', batch: view(0) }), { type: 'events', events: evs });
    expect(s.log).toHaveLength(LOG_LIMIT);
    expect(s.log[0].seq).toBe(51);
    expect(s.log[s.log.length - 1].seq).toBe(LOG_LIMIT + 50);
    expect(s.seq).toBe(LOG_LIMIT + 50);
  });

  it('rejects malformed events', () => {
    const s0 = liveReducer(initialLive, { type: 'view', batch: view(1) });
    const s = liveReducer(s0, { type: 'events', events: [ev(Number.NaN, 'image.failed', {}), ev(0, 'image.failed', {})] });
    expect(s).toBe(s0);
  });
});

describe('liveReducer: WebSocket snapshots', () => {
  it('takes a full view as snapshot data, at the snapshot seq', () => {
    const s = liveReducer(initialLive, { type: 'snapshot', seq: 12, data: view(0, { status: 'paused' }) });
    expect(s.seq).toBe(12);
    expect(s.batch!.status).toBe('paused');
  });

  it('merges a short snapshot into the view', () => {
    const s = run(liveReducer(initialLive, { type: 'view', batch: view(5) }), {
      type: 'snapshot',
      seq: 9,
      data: {
        status: 'running',
        progress: { done: 1, total: 8 },
        queue_position: 0,
        eta_seconds: 30,
        images: [{ id: 'i4', status: 'succeeded' }, { id: 'i8', status: 'failed', reason: 'blank' }],
      },
    });
    expect(s.seq).toBe(9);
    expect(image(s, 'i4').urls.preview).toBe('/api/v1/images/i4/content?size=preview');
    expect(image(s, 'i8').reason).toBe('blank');
    expect(s.batch!.progress).toEqual({ total: 8, done: 2, succeeded: 1, failed: 1 });
    expect(s.batch!.queue_position).toBe(0);
  });

  it('ignores a snapshot older than the state, and a short one before any view', () => {
    const s0 = liveReducer(initialLive, { type: 'view', batch: view(5) });
    expect(liveReducer(s0, { type: 'snapshot', seq: 3, data: { status: 'queued' } })).toBe(s0);
    expect(liveReducer(initialLive, { type: 'snapshot', seq: 3, data: { status: 'queued' } })).toBe(initialLive);
  });

  it('a reconnect replay (after_seq < snapshot seq) logs without applying twice', () => {
    const s = run(
      liveReducer(initialLive, { type: 'view', batch: view(5) }),
      { type: 'snapshot', seq: 8, data: { status: 'running', images: [{ id: 'i1', status: 'succeeded' }] } },
      { type: 'event', event: ev(6, 'image.running', { image_id: 'i1', status: 'running' }) },
      { type: 'event', event: ev(8, 'image.succeeded', { image_id: 'i1', status: 'succeeded' }) },
      { type: 'event', event: ev(9, 'image.running', { image_id: 'i2', status: 'running' }) },
    );
    expect(image(s, 'i1').status).toBe('succeeded'); // not set back to running by #6
    expect(image(s, 'i2').status).toBe('running');
    expect(s.log.map((e) => e.seq)).toEqual([6, 8, 9]);
    expect(s.seq).toBe(9);
  });
});

describe('wire formats', () => {
  it('parses WebSocket frames', () => {
    expect(parseWSMessage('{"type":"snapshot","batch_id":"b1","seq":3,"data":{"status":"queued"}}')).toEqual({
      type: 'snapshot',
      batchId: 'b1',
      seq: 3,
      data: { status: 'queued' },
    });
    expect(parseWSMessage('{"type":"event","batch_id":"b1","seq":4,"kind":"image.succeeded","at":"2026-11-28T10:40:02.5Z","data":{"image_id":"i1"}}')).toEqual({
      type: 'event',
      batchId: 'b1',
      event: { seq: 4, kind: 'image.succeeded', at: '2026-11-28T10:40:02.5Z', data: { image_id: 'i1' } },
    });
    expect(parseWSMessage('{"type":"error","batch_id":"b1","code":"not_found","detail":"No such batch."}')).toMatchObject({ type: 'error', code: 'not_found' });
    expect(parseWSMessage('not json').type).toBe('other');
    expect(parseWSMessage('[1]').type).toBe('other');
    expect(parseWSMessage('{"type":"event","seq":"x","kind":"k"}').type).toBe('other');
  });

  it('converts stored events', () => {
    expect(fromStored([{ seq: 2, type: 'image.running', data: null, created_at: 't' }])).toEqual([{ seq: 2, kind: 'image.running', at: 't', data: {} }]);
  });

  it('backs off from 0.5 s doubling to 30 s with full jitter', () => {
    expect(reconnectDelay(0, () => 1)).toBe(500);
    expect(reconnectDelay(1, () => 1)).toBe(1000);
    expect(reconnectDelay(5, () => 1)).toBe(16000);
    expect(reconnectDelay(6, () => 1)).toBe(30000);
    expect(reconnectDelay(100, () => 1)).toBe(30000);
    expect(reconnectDelay(3, () => 0.5)).toBe(2000);
    expect(reconnectDelay(3, () => 0)).toBe(0);
  });

  it('classifies states', () => {
    expect(isTerminalBatch('partially_failed')).toBe(true);
    expect(isTerminalBatch('waiting_provider')).toBe(false);
    expect(isRetryableImage('interrupted')).toBe(true);
    expect(isRetryableImage('succeeded')).toBe(false);
  });
});
