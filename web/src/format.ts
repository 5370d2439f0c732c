/** formatBytes renders a byte count with binary units: 5242880 → "5 MiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return '?';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = v >= 100 || Number.isInteger(v) ? v.toFixed(0) : v.toFixed(1);
  return `${s.replace(/\.0$/, '')} ${units[i]}`;
}

/** normalizeSearch folds case, width and tone marks so "Xīndū", "xindu" and "XINDU" match. */
export function normalizeSearch(s: string): string {
  return s
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[\s'’·-]+/g, '');
}

const CURRENCY_SIGNS: Record<string, string> = { CNY: '¥', RMB: '¥', USD: '$', EUR: '€' };

/** formatMoney renders an API amount: {amount: "1.5", currency: "CNY"} → "¥1.50". */
export function formatMoney(m: { amount: string; currency: string } | null | undefined): string {
  if (!m || m.amount === undefined || m.amount === null) return '—';
  const n = Number(m.amount);
  let amount = m.amount;
  if (Number.isFinite(n)) {
    // Keep up to 4 decimals for tiny per-image prices, at least 2.
    const decimals = Math.min(4, Math.max(2, (m.amount.split('.')[1] ?? '').replace(/0+$/, '').length));
    amount = n.toFixed(decimals);
  }
  const sign = CURRENCY_SIGNS[m.currency];
  return sign ? `${sign}${amount}` : `${amount} ${m.currency}`.trim();
}

/** splitDuration turns seconds into the unit the UI shows: under a minute, minutes, or hours and minutes. */
export function splitDuration(seconds: number): { unit: 'seconds'; n: number } | { unit: 'minutes'; n: number } | { unit: 'hours'; h: number; m: number } {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return { unit: 'seconds', n: s };
  if (s < 3600) return { unit: 'minutes', n: Math.round(s / 60) };
  return { unit: 'hours', h: Math.floor(s / 3600), m: Math.round((s % 3600) / 60) };
}
