// Presets on the new-batch form: the form's settings as a preset, a preset
// applied back to the form, name checks and list upkeep. Pure, so unit tested.

import type { Aspect, Enhance, Preset, PresetSettings, Priority } from '../api';
import {
  ASPECTS,
  ENHANCES,
  GROUPS_DEFAULT,
  clampGroups,
  defaultOutput,
  formSettings,
  normalizeBudget,
  type FormSettings,
  type ManualState,
  type Mode,
  type OutputState,
  type SmartState,
} from './request';

/** The whole new-batch form, as the page keeps it. */
export interface FormState {
  mode: Mode;
  smart: SmartState;
  manual: ManualState;
  output: OutputState;
}

/** The server's limit (internal/httpapi/presets.go). */
export const PRESET_NAME_MAX = 100;

export type NameProblem = 'empty' | 'tooLong' | 'control';

/** checkPresetName mirrors the server's rule: 1–100 characters after trimming, no control characters. */
export function checkPresetName(name: string): NameProblem | null {
  const s = name.trim();
  if (s === '') return 'empty';
  if ([...s].length > PRESET_NAME_MAX) return 'tooLong';
  // Unicode category Cc (as Go's unicode.IsControl).
  if (/[\u0000-\u001f\u007f-\u009f]/.test(s)) return 'control';
  return null;
}

/**
 * presetSettings is what "save as preset" sends, or null while the typed
 * budget is not a valid amount (saving would silently drop it).
 */
export function presetSettings(f: FormState): FormSettings | null {
  if (normalizeBudget(f.output.budget) === null) return null;
  return formSettings(f.mode, f.smart, f.manual, f.output);
}

/** settingsKey identifies the form's settings, for "changed since the preset was applied?". */
export function settingsKey(f: FormState): string {
  return JSON.stringify(formSettings(f.mode, f.smart, f.manual, f.output));
}

/** provinceOfCounty is the 6-digit province code of a 6-digit county code ("130502" → "130000"). */
export function provinceOfCounty(code: string): string | null {
  return /^\d{6}$/.test(code) ? code.slice(0, 2) + '0000' : null;
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function months(v: unknown): number[] {
  return Array.isArray(v) ? v.filter((x): x is number => Number.isInteger(x) && x >= 1 && x <= 12) : [];
}

/**
 * StoredSettings are a preset's settings as applyPreset reads them: the
 * server's PresetSettings, read defensively because a preset saved by an
 * older release may lack fields.
 */
export type StoredSettings = Partial<Omit<PresetSettings, 'filters' | 'manual'>> & {
  filters?: Partial<NonNullable<PresetSettings['filters']>> | null;
  manual?: Partial<NonNullable<PresetSettings['manual']>> | null;
};

/**
 * applyPreset puts a preset's settings into the form. The preset's mode
 * becomes the form's; the other mode's fields stay as they were (a smart
 * preset has no manual part). Anything missing or unknown falls back to the
 * form's default, and "high" priority, which only admins may send, becomes
 * "normal" for others.
 */
export function applyPreset(s: StoredSettings, current: FormState, opts: { groupsMax: number; isAdmin: boolean }): FormState {
  const mode: Mode = s.mode === 'manual' ? 'manual' : 'smart';
  const priority: Priority = s.priority === 'low' || s.priority === 'normal' ? s.priority : s.priority === 'high' && opts.isAdmin ? 'high' : 'normal';
  const output: OutputState = {
    aspect: ASPECTS.includes(s.aspect as Aspect) ? (s.aspect as Aspect) : defaultOutput.aspect,
    resolution: s.resolution === 1536 ? 1536 : s.resolution === 1024 ? 1024 : defaultOutput.resolution,
    enhance: ENHANCES.includes(s.enhance as Enhance) ? (s.enhance as Enhance) : defaultOutput.enhance,
    priority,
    budget: typeof s.budget === 'string' ? s.budget : '',
  };
  if (mode === 'smart') {
    const f = s.filters ?? {};
    const smart: SmartState = {
      groups: clampGroups(typeof s.groups === 'number' ? s.groups : GROUPS_DEFAULT, opts.groupsMax),
      provinces: strings(f.provinces),
      months: months(f.months),
      roads: strings(f.roads),
      categories: strings(f.element_categories),
      allowSameProvince: s.allow_same_province === true,
    };
    return { mode, smart, manual: current.manual, output };
  }
  const m = s.manual;
  const county = m && typeof m.county === 'string' && m.county !== '' ? m.county : null;
  const month = m && typeof m.month === 'number' && Number.isInteger(m.month) && m.month >= 1 && m.month <= 12 ? m.month : current.manual.month;
  const manual: ManualState = {
    province: county ? provinceOfCounty(county) : null,
    county,
    month,
    road: m && typeof m.road === 'string' ? m.road : '',
    elements: strings(m?.elements),
  };
  return { mode, smart: current.smart, manual, output };
}

/** compareNames orders presets as the server lists them (by name, code-unit order). */
function compareNames(a: Preset, b: Preset): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/** upsertPreset replaces the preset with the same id (or adds it) and keeps the list sorted by name. */
export function upsertPreset(list: readonly Preset[], p: Preset): Preset[] {
  return [...list.filter((x) => x.id !== p.id), p].sort(compareNames);
}

export function removePreset(list: readonly Preset[], id: string): Preset[] {
  return list.filter((x) => x.id !== id);
}

/** findByName finds the preset a "name taken" refusal is about. */
export function findByName(list: readonly Preset[], name: string): Preset | undefined {
  const n = name.trim();
  return list.find((p) => p.name === n);
}

/** filterCount counts the chosen filter values of a smart preset, for its one-line summary. */
export function filterCount(s: StoredSettings): number {
  const f = s.filters ?? {};
  return strings(f.provinces).length + months(f.months).length + strings(f.roads).length + strings(f.element_categories).length;
}
