// Pure helpers of the history page (unit tested).

import type { Usage } from '../api';

/** historyQuery writes the list filters into the page's query string (empty ones left out). */
export function historyQuery(f: { status: string; mode: string; q: string }): string {
  const p = new URLSearchParams();
  if (f.status) p.set('status', f.status);
  if (f.mode) p.set('mode', f.mode);
  if (f.q) p.set('q', f.q);
  const s = p.toString();
  return s ? '?' + s : '';
}

/** sumByDay folds the usage rows (day × provider) into days, newest first. */
export function sumByDay(items: Usage['items']): { day: string; images: number; amount: number; currency: string; providers: string[] }[] {
  const days = new Map<string, { day: string; images: number; amount: number; currency: string; providers: string[] }>();
  for (const r of items) {
    const d = days.get(r.day) ?? { day: r.day, images: 0, amount: 0, currency: r.cost.currency, providers: [] };
    d.images += r.images;
    d.amount += Number(r.cost.amount) || 0;
    if (!d.providers.includes(r.provider)) d.providers.push(r.provider);
    days.set(r.day, d);
  }
  return [...days.values()].sort((a, b) => (a.day < b.day ? 1 : -1));
}
