import { describe, expect, it } from 'vitest';
import { DEFAULT_LANG, hasMessage, initialLang, interpolate, problemMessage, translate } from './i18n';
import { en, zhCN } from './i18n/messages';

const REQUIRED_CODES = [
  'invalid_credentials',
  'login_throttled',
  'unauthenticated',
  'admin_required',
  'cross_origin_forbidden',
  'weak_password',
  'username_taken',
  'wrong_password',
  'rate_limited',
  'not_found',
  'internal_error',
  'body_too_large',
  'invalid_json',
  'bad_username',
  'bad_role',
];

function placeholders(s: string): string[] {
  return [...s.matchAll(/\{([a-zA-Z0-9_]+)\}/g)].map((m) => m[1]).sort();
}

describe('dictionaries', () => {
  it('have the same keys in zh-CN and en', () => {
    expect(Object.keys(en).sort()).toEqual(Object.keys(zhCN).sort());
  });

  it('use the same placeholders in both languages', () => {
    for (const [k, zh] of Object.entries(zhCN)) {
      expect(placeholders(en[k as keyof typeof en]), k).toEqual(placeholders(zh));
    }
  });

  it('have no empty strings', () => {
    for (const d of [zhCN, en]) for (const [k, v] of Object.entries(d)) expect(v.trim(), k).not.toBe('');
  });

  it.each(REQUIRED_CODES)('translates problem code %s in both languages', (code) => {
    expect(hasMessage('zh-CN', 'problem.' + code)).toBe(true);
    expect(hasMessage('en', 'problem.' + code)).toBe(true);
  });
});

describe('translate', () => {
  it('looks keys up per language', () => {
    expect(translate('zh-CN', 'nav.new')).toBe('新建批次');
    expect(translate('en', 'nav.new')).toBe('New batch');
  });

  it('fills placeholders and leaves unknown ones visible', () => {
    expect(translate('zh-CN', 'common.selected', { count: 3 })).toBe('已选 3 项');
    expect(translate('en', 'common.selected')).toBe('{count} selected');
    expect(interpolate('{a}-{b}', { a: 1 })).toBe('1-{b}');
    expect(interpolate('{list}', { list: ['x', 'y'] })).toBe('x, y');
    expect(interpolate('{zero}', { zero: 0 })).toBe('0');
  });

  it('returns the key itself for an unknown key', () => {
    expect(translate('en', 'no.such.key')).toBe('no.such.key');
  });
});

describe('problemMessage', () => {
  it('translates by code with params', () => {
    expect(problemMessage('zh-CN', { code: 'invalid_credentials', detail: 'Wrong username or password.' })).toBe('用户名或密码错误');
    expect(problemMessage('en', { code: 'login_throttled', params: { retry_after_seconds: 42 } })).toBe(
      'Too many failed sign-ins; try again in 42 s',
    );
    expect(problemMessage('zh-CN', { code: 'weak_password', params: { min_length: 10 } })).toContain('10');
  });

  it('falls back to the detail for an unknown code', () => {
    expect(problemMessage('zh-CN', { code: 'brand_new_code', detail: 'Something specific happened.' })).toBe('Something specific happened.');
  });

  it('falls back to the title, then to a generic HTTP message', () => {
    expect(problemMessage('en', { code: '', title: 'Bad Gateway', status: 502 })).toBe('Bad Gateway');
    expect(problemMessage('en', { status: 502 })).toBe('Request failed (HTTP 502)');
    expect(problemMessage('zh-CN', { status: 500 })).toBe('请求失败（HTTP 500）');
  });
});

describe('initialLang', () => {
  it('uses the stored language, else zh-CN', () => {
    expect(initialLang('en')).toBe('en');
    expect(initialLang('zh-CN')).toBe('zh-CN');
    expect(initialLang(null)).toBe(DEFAULT_LANG);
    expect(initialLang('fr')).toBe('zh-CN');
  });
});
