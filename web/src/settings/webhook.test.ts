import { describe, expect, it } from 'vitest';
import type { WebhookDelivery } from '../api';
import { appendPage, checkWebhookUrl, isSettled, mergeFirstPage, putOnTop, sameEvents, toggleEvent } from './webhook';

function d(id: string, status: WebhookDelivery['status'] = 'delivered'): WebhookDelivery {
  return {
    id,
    event: 'batch.done',
    batch_id: null,
    status,
    attempts: 1,
    last_status_code: 200,
    last_error: '',
    created_at: '2026-01-01T00:00:00Z',
    last_attempt_at: null,
    delivered_at: null,
  };
}
const ids = (l: { items: WebhookDelivery[] }) => l.items.map((x) => x.id);

describe('checkWebhookUrl', () => {
  it('accepts https URLs and leaves internal hosts to the server', () => {
    expect(checkWebhookUrl(' https://hooks.example.com/ludeng?token=abc ')).toBeNull();
    expect(checkWebhookUrl('https://10.0.0.1/hook')).toBeNull();
  });

  it('names what is certainly wrong', () => {
    expect(checkWebhookUrl('')).toBe('empty');
    expect(checkWebhookUrl('hooks.example.com/x')).toBe('notUrl');
    expect(checkWebhookUrl('ftp://hooks.example.com/x')).toBe('notUrl');
    expect(checkWebhookUrl('http://hooks.example.com/x')).toBe('https');
    expect(checkWebhookUrl('https://user:pw@hooks.example.com/x')).toBe('credentials');
    expect(checkWebhookUrl('https://example.com/' + 'a'.repeat(2048))).toBe('tooLong');
  });

  it('lets plain http to loopback through (test servers allow it)', () => {
    expect(checkWebhookUrl('http://127.0.0.1:9000/hook')).toBeNull();
    expect(checkWebhookUrl('http://localhost/hook')).toBeNull();
    expect(checkWebhookUrl('http://[::1]:9000/hook')).toBeNull();
  });
});

describe('events', () => {
  it('toggles in display order', () => {
    expect(toggleEvent(['group.done'], 'batch.done')).toEqual(['batch.done', 'group.done']);
    expect(toggleEvent(['batch.done', 'group.done'], 'batch.done')).toEqual(['group.done']);
    expect(sameEvents(['group.done', 'batch.done'], ['batch.done', 'group.done'])).toBe(true);
    expect(sameEvents(['batch.done'], ['batch.done', 'group.done'])).toBe(false);
  });
});

describe('delivery log paging', () => {
  it('appends older pages without repeating rows', () => {
    const l = appendPage({ items: [d('5'), d('4')], cursor: 'c1' }, { items: [d('4'), d('3')], next_cursor: '' });
    expect(ids(l)).toEqual(['5', '4', '3']);
    expect(l.cursor).toBe('');
  });

  it('refreshes the top, keeps older loaded rows and the load-more position', () => {
    const shown = { items: [d('4', 'pending'), d('3'), d('2'), d('1')], cursor: 'after-1' };
    const l = mergeFirstPage(shown, { items: [d('5'), d('4')], next_cursor: 'after-4' });
    expect(ids(l)).toEqual(['5', '4', '3', '2', '1']);
    expect(l.items[1].status).toBe('delivered');
    expect(l.cursor).toBe('after-1');
  });

  it('takes the page cursor when only the first page is shown', () => {
    expect(mergeFirstPage({ items: [], cursor: '' }, { items: [d('2'), d('1')], next_cursor: 'n' })).toEqual({ items: [d('2'), d('1')], cursor: 'n' });
    expect(mergeFirstPage({ items: [d('2'), d('1')], cursor: 'n' }, { items: [d('2'), d('1')], next_cursor: 'n' }).cursor).toBe('n');
  });

  it('puts a queued ping on top once', () => {
    const l = putOnTop(putOnTop({ items: [d('1')], cursor: '' }, d('2', 'pending')), d('2', 'pending'));
    expect(ids(l)).toEqual(['2', '1']);
    expect(isSettled(l.items[0])).toBe(false);
    expect(isSettled(l.items[1])).toBe(true);
  });
});
