import { LANGS } from '../i18n';
import { useI18n } from '../i18n/context';

/** LangSwitch toggles zh-CN / English; the choice is kept in localStorage. */
export function LangSwitch() {
  const { lang, setLang, t } = useI18n();
  return (
    <div className="lang-switch" role="group" aria-label={t('lang.label')}>
      {LANGS.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          className={l === lang ? 'is-on' : ''}
          aria-pressed={l === lang}
          onClick={() => setLang(l)}
        >
          {l === 'zh-CN' ? t('lang.zh') : t('lang.en')}
        </button>
      ))}
    </div>
  );
}
