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
