// The new-batch form as plain data, and the request body it makes. Pure, so
// the rules (what is sent, what blocks Generate) are unit tested.

import type { Aspect, Enhance, Priority, SubmitBody } from '../api';

export type Mode = 'smart' | 'manual';

export interface SmartState {
  groups: number;
  provinces: string[];
  months: number[];
  roads: string[];
  categories: string[];
  allowSameProvince: boolean;
}

export interface ManualState {
  /** The province of the cascade (UI only; the county code implies it). */
  province?: string | null;
  county: string | null;
  month: number;
  road: string;
  elements: string[];
}

export interface OutputState {
  aspect: Aspect;
  resolution: 1024 | 1536;
  enhance: Enhance;
  priority: Priority;
  /** The batch's cost cap as typed; empty for none. */
  budget: string;
}

export const GROUPS_MIN = 1;
export const GROUPS_MAX = 12;
export const GROUPS_DEFAULT = 8;

export const ASPECTS: readonly Aspect[] = ['3:4', '9:16', '1:1'];
export const RESOLUTIONS = [1024, 1536] as const;
export const ENHANCES: readonly Enhance[] = ['off', 'creative', 'balanced', 'precise'];

export const defaultSmart: SmartState = {
  groups: GROUPS_DEFAULT,
  provinces: [],
  months: [],
  roads: [],
  categories: [],
  allowSameProvince: false,
};

export const defaultOutput: OutputState = { aspect: '3:4', resolution: 1024, enhance: 'balanced', priority: 'normal', budget: '' };

export function defaultManual(now = new Date()): ManualState {
  return { province: null, county: null, month: now.getMonth() + 1, road: '', elements: [] };
}

/** clampGroups keeps a typed group count within 1–12 (NaN → 1). */
export function clampGroups(n: number, max = GROUPS_MAX): number {
  const r = Math.round(n);
  if (!Number.isFinite(r)) return GROUPS_MIN;
  return Math.min(max, Math.max(GROUPS_MIN, r));
}

/**
 * normalizeBudget turns the typed cap into what the API accepts (a positive
 * decimal with at most 6 decimals, "," read as "."), "" for none, or null
 * when it is not a valid amount.
 */
export function normalizeBudget(s: string): string | null {
  const v = s.trim().replace(/[，,]/g, '.').replace(/^[¥￥$]\s*/, '');
  if (v === '') return '';
  if (!/^\d*(\.\d{1,6})?$/.test(v) || v === '.' || !/\d/.test(v)) return null;
  if (Number(v) <= 0) return null;
  return v.startsWith('.') ? '0' + v : v;
}

/** Why the form cannot be submitted yet (message keys). */
export type BlockReason = 'needUpload' | 'uploading' | 'needCounty' | 'needRoad' | 'needElements' | 'badBudget';

export interface BuildResult {
  body: SubmitBody | null;
  blocked: BlockReason[];
}

function sortedUnique<T extends string | number>(xs: T[]): T[] {
  return [...new Set(xs)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The settings part of a batch request: the body without upload_id, seed and dry_run (what a preset saves). */
export type FormSettings = Omit<SubmitBody, 'upload_id' | 'seed' | 'dry_run'>;

/**
 * formSettings is the form as API settings: only the active mode's fields,
 * sorted filters without empty ones, priority only when not normal, the
 * budget only when it is a valid amount (an invalid one is left out).
 */
export function formSettings(mode: Mode, smart: SmartState, manual: ManualState, out: OutputState): FormSettings {
  const budget = normalizeBudget(out.budget);
  const s: FormSettings = { mode, aspect: out.aspect, resolution: out.resolution, enhance: out.enhance };
  if (out.priority !== 'normal') s.priority = out.priority;
  if (budget) s.budget = budget;
  if (mode === 'smart') {
    s.groups = clampGroups(smart.groups);
    s.allow_same_province = smart.allowSameProvince;
    const filters: NonNullable<SubmitBody['filters']> = {};
    if (smart.provinces.length) filters.provinces = sortedUnique(smart.provinces);
    if (smart.months.length) filters.months = sortedUnique(smart.months);
    if (smart.roads.length) filters.roads = sortedUnique(smart.roads);
    if (smart.categories.length) filters.element_categories = sortedUnique(smart.categories);
    if (Object.keys(filters).length) s.filters = filters;
  } else {
    s.manual = { county: manual.county ?? '', month: manual.month, road: manual.road, elements: sortedUnique(manual.elements) };
  }
  return s;
}

/** buildRequest makes the POST /api/v1/batches body of the form (without dry_run and seed). */
export function buildRequest(mode: Mode, uploadId: string | null, smart: SmartState, manual: ManualState, out: OutputState): BuildResult {
  const blocked: BlockReason[] = [];
  if (!uploadId) blocked.push('needUpload');
  if (normalizeBudget(out.budget) === null) blocked.push('badBudget');
  if (mode === 'manual') {
    if (!manual.county) blocked.push('needCounty');
    if (!manual.road) blocked.push('needRoad');
    if (manual.elements.length === 0) blocked.push('needElements');
  }
  const body: SubmitBody = { upload_id: uploadId ?? '', ...formSettings(mode, smart, manual, out) };
  return { body: blocked.length ? null : body, blocked };
}

/** requestKey identifies a request for "is the preview still current?". */
export function requestKey(body: SubmitBody | null): string {
  if (!body) return '';
  const { seed: _s, dry_run: _d, ...rest } = body;
  return JSON.stringify(rest);
}
