// Webhook settings: local URL checks (the server's verdict still wins),
// event lists, and the delivery log's paging. Pure, so unit tested.

import type { Page, WebhookDelivery, WebhookEvent } from '../api';

/** The events a user may subscribe to, in display order (webhook.Events). */
export const WEBHOOK_EVENTS: readonly WebhookEvent[] = ['batch.done', 'group.done'];

/** The server's limit (maxWebhookURL). */
export const WEBHOOK_URL_MAX = 2048;

export type UrlProblem = 'empty' | 'tooLong' | 'notUrl' | 'https' | 'credentials';

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\./.test(h);
}

/**
 * checkWebhookUrl catches what is certainly wrong before asking the server:
 * not an absolute URL, not https (plain http is only ever accepted for a
 * loopback host on test servers), a user name or password in the URL. Whether
 * the host is internal is the server's call (it resolves the name).
 */
export function checkWebhookUrl(raw: string): UrlProblem | null {
  const s = raw.trim();
  if (s === '') return 'empty';
  if (s.length > WEBHOOK_URL_MAX) return 'tooLong';
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'notUrl';
  }
  if (!u.hostname) return 'notUrl';
  if (u.protocol === 'http:' && isLoopback(u.hostname)) return null;
  if (u.protocol !== 'https:') return u.protocol === 'http:' ? 'https' : 'notUrl';
  if (u.username || u.password) return 'credentials';
  return null;
}

/** toggleEvent adds or removes an event and keeps the display order. */
export function toggleEvent(events: readonly WebhookEvent[], e: WebhookEvent): WebhookEvent[] {
  const on = events.includes(e) ? events.filter((x) => x !== e) : [...events, e];
  return WEBHOOK_EVENTS.filter((x) => on.includes(x));
}

/** sameEvents compares two subscriptions as sets. */
export function sameEvents(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

export interface DeliveryList {
  items: WebhookDelivery[];
  /** Where "load more" continues; "" when everything is loaded. */
  cursor: string;
}

/** appendPage adds an older page below the list (skipping rows already shown). */
export function appendPage(list: DeliveryList, page: Page<WebhookDelivery>): DeliveryList {
  const seen = new Set(list.items.map((d) => d.id));
  return { items: [...list.items, ...page.items.filter((d) => !seen.has(d.id))], cursor: page.next_cursor ?? '' };
}

/**
 * mergeFirstPage refreshes the top of the list with a newly fetched first
 * page (newest first): its rows replace the shown ones with the same id, new
 * rows go on top, and older rows already loaded stay below. The "load more"
 * position stays where it was when more than one page is shown.
 */
export function mergeFirstPage(list: DeliveryList, page: Page<WebhookDelivery>): DeliveryList {
  const fresh = new Set(page.items.map((d) => d.id));
  const items = [...page.items, ...list.items.filter((d) => !fresh.has(d.id))];
  const cursor = items.length > page.items.length ? list.cursor : (page.next_cursor ?? '');
  return { items, cursor };
}

/** putOnTop shows one delivery (e.g. the queued test ping) before a refetch brings it. */
export function putOnTop(list: DeliveryList, d: WebhookDelivery): DeliveryList {
  return { items: [d, ...list.items.filter((x) => x.id !== d.id)], cursor: list.cursor };
}

/** isSettled: a delivery that will not change any more. */
export function isSettled(d: WebhookDelivery): boolean {
  return d.status === 'delivered' || d.status === 'failed';
}
