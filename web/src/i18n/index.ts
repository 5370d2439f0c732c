import { en, zhCN, type MessageKey } from './messages';

export type Lang = 'zh-CN' | 'en';
export type { MessageKey };
export type Params = Record<string, unknown>;

export const LANGS: readonly Lang[] = ['zh-CN', 'en'];
export const DEFAULT_LANG: Lang = 'zh-CN';
export const LANG_STORAGE_KEY = 'ludeng.lang';

const dictionaries: Record<Lang, Record<string, string>> = { 'zh-CN': zhCN, en };

export function isLang(v: unknown): v is Lang {
  return v === 'zh-CN' || v === 'en';
}

/** hasMessage reports whether key exists in lang's dictionary. */
export function hasMessage(lang: Lang, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(dictionaries[lang], key);
}

/** interpolate replaces {name} placeholders; unknown placeholders stay as written. */
export function interpolate(template: string, params?: Params): string {
  if (!params) return template;
  return template.replace(/\{([a-zA-Z0-9_]+)\}/g, (whole, name: string) => {
    const v = params[name];
    if (v === undefined || v === null) return whole;
    return Array.isArray(v) ? v.join(', ') : String(v);
  });
}

/**
 * translate looks key up in lang, then in zh-CN (the source language), and
 * finally returns the key itself so a missing string is visible, not blank.
 */
export function translate(lang: Lang, key: string, params?: Params): string {
  const dict = hasMessage(lang, key) ? dictionaries[lang] : hasMessage(DEFAULT_LANG, key) ? dictionaries[DEFAULT_LANG] : null;
  return interpolate(dict ? dict[key] : key, params);
}

/** The parts of an RFC 9457 problem the UI needs to explain it. */
export interface ProblemLike {
  code?: string;
  detail?: string;
  title?: string;
  status?: number;
  params?: Params | null;
}

/**
 * problemMessage is the user-facing text of a problem: the translated
 * `problem.<code>` message when the dictionary knows the code, else the
 * server's English detail, else its title, else a generic HTTP message.
 */
export function problemMessage(lang: Lang, p: ProblemLike): string {
  if (p.code && hasMessage(lang, 'problem.' + p.code)) {
    return translate(lang, 'problem.' + p.code, p.params ?? undefined);
  }
  if (p.detail) return p.detail;
  if (p.title) return p.title;
  return translate(lang, 'error.http', { status: p.status ?? 0 });
}

/** initialLang is the stored choice, else zh-CN (the product is Chinese first, whatever the browser says). */
export function initialLang(stored: string | null): Lang {
  return isLang(stored) ? stored : DEFAULT_LANG;
}
