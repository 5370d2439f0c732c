import { describe, expect, it } from 'vitest';
import type { Preset, PresetSettings } from '../api';
import { hasMessage } from '../i18n';
import {
  applyPreset,
  checkPresetName,
  filterCount,
  findByName,
  presetSettings,
  provinceOfCounty,
  removePreset,
  settingsKey,
  upsertPreset,
  type FormState,
  type StoredSettings,
} from './preset';
import { defaultManual, defaultOutput, defaultSmart } from './request';

const base: FormState = { mode: 'smart', smart: defaultSmart, manual: defaultManual(new Date(2026, 2, 1)), output: defaultOutput };
const opts = { groupsMax: 12, isAdmin: false };

const smartDefaults: PresetSettings = { mode: 'smart', allow_same_province: false, aspect: '3:4', resolution: 1024, enhance: 'balanced', priority: 'normal' };

function preset(id: string, name: string, settings: PresetSettings = smartDefaults): Preset {
  return { id, name, settings, created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z' };
}

describe('checkPresetName', () => {
  it('mirrors the server rule', () => {
    expect(checkPresetName('  河北冬季  ')).toBeNull();
    expect(checkPresetName('   ')).toBe('empty');
    expect(checkPresetName('路'.repeat(100))).toBeNull();
    expect(checkPresetName('路'.repeat(101))).toBe('tooLong');
    expect(checkPresetName('a\tb')).toBe('control');
    expect(checkPresetName('a\u0085b')).toBe('control');
  });

  it('counts characters, not UTF-16 units', () => {
    expect(checkPresetName('😀'.repeat(100))).toBeNull();
  });
});

describe('presetSettings', () => {
  it('saves the active mode only, without upload, seed or dry run', () => {
    const f: FormState = {
      ...base,
      smart: { ...defaultSmart, groups: 3, provinces: ['440000', '130000'], months: [12, 1], allowSameProvince: true },
      output: { aspect: '9:16', resolution: 1536, enhance: 'off', priority: 'low', budget: '12,5' },
    };
    expect(presetSettings(f)).toEqual({
      mode: 'smart',
      groups: 3,
      allow_same_province: true,
      filters: { provinces: ['130000', '440000'], months: [1, 12] },
      aspect: '9:16',
      resolution: 1536,
      enhance: 'off',
      priority: 'low',
      budget: '12.5',
    });
  });

  it('saves an unfinished manual form as it is', () => {
    const s = presetSettings({ ...base, mode: 'manual', manual: { ...base.manual, road: 'asphalt' } });
    expect(s).toMatchObject({ mode: 'manual', manual: { county: '', month: 3, road: 'asphalt', elements: [] } });
    expect(s).not.toHaveProperty('groups');
    expect(s).not.toHaveProperty('filters');
  });

  it('refuses an invalid budget instead of dropping it', () => {
    expect(presetSettings({ ...base, output: { ...defaultOutput, budget: 'abc' } })).toBeNull();
  });
});

describe('applyPreset', () => {
  it('fills the smart form and the output options from a stored (normalised) preset', () => {
    const s: PresetSettings = {
      mode: 'smart',
      groups: 4,
      filters: { provinces: ['130000'], months: [1, 12], roads: [], element_categories: ['crop'] },
      allow_same_province: true,
      aspect: '1:1',
      resolution: 1536,
      enhance: 'precise',
      priority: 'normal',
      budget: '20',
    };
    const manual = { ...base.manual, road: 'gravel' };
    const f = applyPreset(s, { ...base, mode: 'manual', manual }, opts);
    expect(f.mode).toBe('smart');
    expect(f.smart).toEqual({ groups: 4, provinces: ['130000'], months: [1, 12], roads: [], categories: ['crop'], allowSameProvince: true });
    expect(f.output).toEqual({ aspect: '1:1', resolution: 1536, enhance: 'precise', priority: 'normal', budget: '20' });
    expect(f.manual).toBe(manual);
  });

  it('derives a province code from a county code', () => {
    expect(provinceOfCounty('130502')).toBe('130000');
    expect(provinceOfCounty('13')).toBeNull();
  });

  it('fills the manual form and derives the province of the county', () => {
    const s: StoredSettings = { mode: 'manual', manual: { county: '130502', month: 7, road: 'asphalt', elements: ['wheat', 'poplar'] } };
    const f = applyPreset(s, base, opts);
    expect(f.mode).toBe('manual');
    expect(f.manual).toEqual({ province: '130000', county: '130502', month: 7, road: 'asphalt', elements: ['wheat', 'poplar'] });
    expect(f.smart).toBe(base.smart);
    expect(f.output).toEqual(defaultOutput);
  });

  it('falls back to defaults for missing or unknown values', () => {
    const f = applyPreset({ mode: 'smart', groups: 40, aspect: '2:1' as never, resolution: 999 as never, enhance: 'wild' as never }, base, opts);
    expect(f.smart.groups).toBe(12);
    expect(f.output).toEqual(defaultOutput);
    const m = applyPreset({ mode: 'manual', manual: { county: '', month: 13, road: '', elements: [] } }, base, opts);
    expect(m.manual).toEqual({ province: null, county: null, month: 3, road: '', elements: [] });
    expect(applyPreset({ mode: 'smart' }, base, { groupsMax: 6, isAdmin: false }).smart.groups).toBe(6);
  });

  it('keeps high priority for admins only', () => {
    expect(applyPreset({ mode: 'smart', priority: 'high' }, base, opts).output.priority).toBe('normal');
    expect(applyPreset({ mode: 'smart', priority: 'high' }, base, { ...opts, isAdmin: true }).output.priority).toBe('high');
  });

  it('round-trips: saving the applied form gives the same settings', () => {
    const stored: StoredSettings = {
      mode: 'smart',
      groups: 3,
      allow_same_province: false,
      filters: { provinces: ['130000'], months: [1] },
      aspect: '9:16',
      resolution: 1024,
      enhance: 'balanced',
      priority: 'low',
    };
    const f = applyPreset(stored, base, opts);
    expect(presetSettings(f)).toEqual(stored);
    expect(settingsKey(f)).toBe(settingsKey(applyPreset(stored, { ...base, mode: 'manual' }, opts)));
    expect(settingsKey(f)).not.toBe(settingsKey({ ...f, smart: { ...f.smart, groups: 4 } }));
  });
});

describe('preset lists', () => {
  it('keeps the list sorted by name on insert and rename', () => {
    let list = [preset('1', 'b'), preset('2', 'd')];
    list = upsertPreset(list, preset('3', 'c'));
    expect(list.map((p) => p.name)).toEqual(['b', 'c', 'd']);
    list = upsertPreset(list, preset('1', 'z'));
    expect(list.map((p) => p.id)).toEqual(['3', '2', '1']);
    expect(removePreset(list, '2').map((p) => p.id)).toEqual(['3', '1']);
  });

  it('finds the preset a name conflict is about', () => {
    const list = [preset('1', '河北冬季'), preset('2', 'x')];
    expect(findByName(list, ' 河北冬季 ')?.id).toBe('1');
    expect(findByName(list, '河北')).toBeUndefined();
  });

  it('counts the filter values of a preset', () => {
    expect(filterCount({ mode: 'smart', filters: { provinces: ['130000'], months: [1, 2], roads: [], element_categories: ['crop'] } })).toBe(4);
    expect(filterCount({ mode: 'manual' })).toBe(0);
  });
});

describe('preset and webhook messages', () => {
  it.each([
    'preset_name_taken',
    'preset_bad_name',
    'preset_limit',
    'preset_not_found',
    'preset_settings_missing',
    'webhook_url_invalid',
    'webhook_url_blocked',
    'webhook_event_unknown',
    'webhook_not_found',
    'webhook_test_pending',
  ])('translates %s in both languages', (code) => {
    expect(hasMessage('zh-CN', 'problem.' + code)).toBe(true);
    expect(hasMessage('en', 'problem.' + code)).toBe(true);
  });
});
