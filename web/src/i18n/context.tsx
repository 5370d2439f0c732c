import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { LANG_STORAGE_KEY, initialLang, problemMessage, translate, type Lang, type MessageKey, type Params, type ProblemLike } from './index';

export interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: (key: MessageKey, params?: Params) => string;
  /** problem turns an error (ApiError or anything else) into display text. */
  problem: (e: unknown) => string;
  formatDateTime: (iso: string | null | undefined) => string;
  monthName: (m: number) => string;
}

const Ctx = createContext<I18n | null>(null);

function readStored(): string | null {
  try {
    return window.localStorage.getItem(LANG_STORAGE_KEY);
  } catch {
    return null;
  }
}

export function I18nProvider({ children }: { children: ReactNode }) {
  const [lang, setLangState] = useState<Lang>(() => initialLang(readStored()));

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try {
      window.localStorage.setItem(LANG_STORAGE_KEY, l);
    } catch {
      // Private mode: the choice lasts for this page only.
    }
  }, []);

  const value = useMemo<I18n>(() => {
    const dtf = new Intl.DateTimeFormat(lang, { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
    const mf = new Intl.DateTimeFormat(lang, { month: 'long', timeZone: 'UTC' });
    return {
      lang,
      setLang,
      t: (key, params) => translate(lang, key, params),
      problem: (e) => {
        if (e && typeof e === 'object' && ('code' in e || 'status' in e)) return problemMessage(lang, e as ProblemLike);
        const msg = e instanceof Error ? e.message : String(e);
        return translate(lang, 'error.generic', { message: msg });
      },
      formatDateTime: (iso) => {
        if (!iso) return '—';
        const d = new Date(iso);
        return Number.isNaN(d.getTime()) ? iso : dtf.format(d);
      },
      monthName: (m) => mf.format(new Date(Date.UTC(2001, m - 1, 1))),
    };
  }, [lang, setLang]);

  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}
