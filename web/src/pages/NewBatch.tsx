import { useEffect, useId, useMemo, useState } from 'react';
import { api, isApiError, type Category, type Element, type Province, type Region, type Road } from '../api';
import { Combobox, type ComboOption } from '../components/Combobox';
import { ErrorNote, Notice, PageHeader } from '../components/common';
import { UploadZone, type PickedImage } from '../components/UploadZone';
import { useAsync } from '../hooks';
import { hasMessage } from '../i18n';
import { useI18n } from '../i18n/context';
import { useSession } from '../session';
import { maxUploadBytes } from '../upload';

type Mode = 'smart' | 'manual';

const MONTHS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const RESOLUTIONS = [1024, 1536] as const;

export function isPoolMissing(e: unknown): boolean {
  return isApiError(e) && e.status === 404;
}

export function NewBatchPage() {
  const { t } = useI18n();
  const { meta } = useSession();
  const [mode, setMode] = useState<Mode>('smart');
  const [image, setImage] = useState<PickedImage | null>(null);
  const provinces = useAsync(() => api.provinces(), []);
  const tabsId = useId();

  return (
    <section>
      <PageHeader title={t('new.title')}>{t('new.intro')}</PageHeader>
      <div className="new-grid">
        <section className="card" aria-labelledby="upload-title">
          <h2 id="upload-title">{t('upload.title')}</h2>
          <UploadZone maxBytes={maxUploadBytes(meta?.limits)} value={image} onChange={setImage} />
        </section>

        <section className="card" aria-label={t('new.mode')}>
          <div className="tabs" role="tablist" aria-label={t('new.mode')}>
            {(['smart', 'manual'] as const).map((m) => (
              <button
                key={m}
                type="button"
                role="tab"
                id={`${tabsId}-${m}`}
                aria-selected={mode === m}
                aria-controls={`${tabsId}-${m}-panel`}
                tabIndex={mode === m ? 0 : -1}
                className={mode === m ? 'is-on' : ''}
                onClick={() => setMode(m)}
                onKeyDown={(e) => {
                  if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
                    const next = m === 'smart' ? 'manual' : 'smart';
                    setMode(next);
                    document.getElementById(`${tabsId}-${next}`)?.focus();
                  }
                }}
              >
                <span className="tab-title">{t(m === 'smart' ? 'new.mode.smart' : 'new.mode.manual')}</span>
                <span className="tab-hint">{t(m === 'smart' ? 'new.mode.smartHint' : 'new.mode.manualHint')}</span>
              </button>
            ))}
          </div>
          <div role="tabpanel" id={`${tabsId}-${mode}-panel`} aria-labelledby={`${tabsId}-${mode}`} className="tabpanel">
            {mode === 'smart' ? (
              <SmartForm provinces={provinces.data?.items} provincesError={provinces.error} reload={provinces.reload} />
            ) : (
              <ManualForm
                provinces={provinces.data?.items}
                provincesLoading={provinces.loading}
                provincesError={provinces.error}
                reload={provinces.reload}
              />
            )}
          </div>
        </section>
      </div>

      <div className="actions-bar">
        <button type="button" className="btn btn-primary btn-large" disabled aria-describedby="generate-note">
          {t('new.generate')}
        </button>
        <div id="generate-note">
          <strong>{t('new.comingSoon')}</strong>
          <div className="muted small">{t('new.comingSoonHint')}</div>
        </div>
      </div>
    </section>
  );
}

function PoolError({ error, reload }: { error: unknown; reload: () => void }) {
  const { t } = useI18n();
  if (!error) return null;
  if (isPoolMissing(error)) return <Notice kind="warn">{t('pool.notReady')}</Notice>;
  return <ErrorNote error={error} onRetry={reload} />;
}

export function provinceOptions(items: Province[] | undefined, lang: string): ComboOption[] {
  return (items ?? []).map((p) => ({
    value: p.code,
    label: lang === 'en' ? p.pinyin : p.name,
    hint: lang === 'en' ? p.short : p.pinyin,
    keywords: `${p.name} ${p.short} ${p.pinyin}`,
  }));
}

export function countyOptions(items: Region[] | undefined, lang: string): ComboOption[] {
  return (items ?? []).map((r) => ({
    value: r.code,
    label: lang === 'en' ? r.pinyin : r.name,
    hint: lang === 'en' ? `${r.name} · ${r.prefecture.pinyin ?? r.prefecture.name}` : `${r.prefecture.name} · ${r.pinyin}`,
    keywords: `${r.name} ${r.pinyin} ${r.prefecture.name} ${(r.aliases ?? []).map((a) => `${a.name} ${a.pinyin ?? ''}`).join(' ')}`,
  }));
}

export function useZoneName() {
  const { t, lang } = useI18n();
  return (zone: string) => {
    const key = 'zone.' + zone;
    return hasMessage(lang, key) ? t(key as never) : zone;
  };
}

function ManualForm({
  provinces,
  provincesLoading,
  provincesError,
  reload,
}: {
  provinces: Province[] | undefined;
  provincesLoading: boolean;
  provincesError: unknown;
  reload: () => void;
}) {
  const { t, lang, monthName } = useI18n();
  const zoneName = useZoneName();
  const [province, setProvince] = useState<string | null>(null);
  const [county, setCounty] = useState<string | null>(null);
  const [month, setMonth] = useState<number>(() => new Date().getMonth() + 1);
  const [road, setRoad] = useState<string>('');
  const [picked, setPicked] = useState<Set<string>>(new Set());

  const counties = useAsync(province ? () => api.counties(province) : null, [province]);
  const roads = useAsync(() => api.roads(), []);
  const region = counties.data?.items.find((r) => r.code === county) ?? null;
  const zone = region?.zone ?? '';
  const elements = useAsync(zone && road ? () => api.elements({ zone, month, road }) : null, [zone, month, road]);

  // Keep only the picked elements that still fit after a filter change.
  useEffect(() => {
    const items = elements.data?.items;
    if (!items) return;
    setPicked((prev) => {
      const ok = new Set(items.map((e) => e.id));
      const next = new Set([...prev].filter((id) => ok.has(id)));
      return next.size === prev.size ? prev : next;
    });
  }, [elements.data]);

  const pOpts = useMemo(() => provinceOptions(provinces, lang), [provinces, lang]);
  const cOpts = useMemo(() => countyOptions(counties.data?.items, lang), [counties.data, lang]);

  if (provincesError) return <PoolError error={provincesError} reload={reload} />;

  return (
    <form className="form" onSubmit={(e) => e.preventDefault()}>
      <div className="form-row">
        <Combobox
          label={t('manual.province')}
          options={pOpts}
          value={province}
          loading={provincesLoading}
          placeholder={t('manual.provincePlaceholder')}
          onChange={(v) => {
            setProvince(v);
            setCounty(null);
          }}
        />
        <Combobox
          label={t('manual.county')}
          options={cOpts}
          value={county}
          loading={counties.loading}
          disabled={!province}
          disabledText={t('manual.countyFirst')}
          placeholder={t('manual.countyPlaceholder')}
          onChange={setCounty}
        />
      </div>
      {counties.error ? <ErrorNote error={counties.error} onRetry={counties.reload} /> : null}
      {region && (
        <p className="muted small">
          {t('manual.zone', { zone: zoneName(region.zone) })} · {region.terrain.map((x) => (lang === 'en' ? x.en : x.zh)).join(lang === 'en' ? '; ' : '、')}
        </p>
      )}

      <div className="form-row">
        <div className="field">
          <label className="label" htmlFor="manual-month">
            {t('manual.month')}
          </label>
          <select id="manual-month" className="input" value={month} onChange={(e) => setMonth(Number(e.target.value))}>
            {MONTHS.map((m) => (
              <option key={m} value={m}>
                {monthName(m)}
              </option>
            ))}
          </select>
        </div>
        <div className="field">
          <label className="label" htmlFor="manual-road">
            {t('manual.road')}
          </label>
          <select
            id="manual-road"
            className="input"
            value={road}
            disabled={roads.loading || !!roads.error}
            onChange={(e) => setRoad(e.target.value)}
          >
            <option value="">{roads.loading ? t('app.loading') : t('manual.roadPlaceholder')}</option>
            {(roads.data?.items ?? []).map((r: Road) => (
              <option key={r.id} value={r.id}>
                {lang === 'en' ? r.en : r.zh}
              </option>
            ))}
          </select>
        </div>
      </div>
      {roads.error ? <PoolError error={roads.error} reload={roads.reload} /> : null}

      <fieldset className="fieldset">
        <legend className="label">
          {t('manual.elements')}
          {picked.size > 0 && <span className="badge">{t('common.selected', { count: picked.size })}</span>}
        </legend>
        <p className="muted small">{t('manual.elementsHint')}</p>
        {!zone || !road ? (
          <p className="placeholder-box">{t('manual.elementsNeedCounty')}</p>
        ) : elements.loading ? (
          <p className="muted">{t('app.loading')}</p>
        ) : elements.error ? (
          <PoolError error={elements.error} reload={elements.reload} />
        ) : (
          <ElementPicker
            items={elements.data?.items ?? []}
            categories={elements.data?.categories ?? []}
            picked={picked}
            onToggle={(id) =>
              setPicked((prev) => {
                const next = new Set(prev);
                if (next.has(id)) next.delete(id);
                else next.add(id);
                return next;
              })
            }
          />
        )}
      </fieldset>
    </form>
  );
}

function ElementPicker({
  items,
  categories,
  picked,
  onToggle,
}: {
  items: Element[];
  categories: Category[];
  picked: Set<string>;
  onToggle: (id: string) => void;
}) {
  const { t, lang } = useI18n();
  if (items.length === 0) return <p className="muted">{t('common.noResults')}</p>;
  const known = new Set(categories.map((c) => c.id));
  const groups: { id: string; label: string; items: Element[] }[] = categories
    .map((c) => ({ id: c.id, label: lang === 'en' ? c.en : c.zh, items: items.filter((e) => e.category === c.id) }))
    .filter((g) => g.items.length > 0);
  const rest = items.filter((e) => !known.has(e.category));
  if (rest.length) groups.push({ id: '_other', label: t('common.all'), items: rest });
  return (
    <div className="element-groups">
      {groups.map((g) => (
        <div key={g.id} className="element-group" role="group" aria-label={g.label}>
          <div className="element-group-title">{g.label}</div>
          <div className="chips">
            {g.items.map((e) => (
              <label key={e.id} className={`chip${picked.has(e.id) ? ' is-on' : ''}`} title={lang === 'en' ? e.zh : e.en}>
                <input type="checkbox" checked={picked.has(e.id)} onChange={() => onToggle(e.id)} />
                <span>{lang === 'en' ? e.en : e.zh}</span>
              </label>
            ))}
          </div>
        </div>
      ))}
    </div>
  );
}

function SmartForm({
  provinces,
  provincesError,
  reload,
}: {
  provinces: Province[] | undefined;
  provincesError: unknown;
  reload: () => void;
}) {
  const { t, lang, monthName } = useI18n();
  const [groups, setGroups] = useState(8);
  const [provs, setProvs] = useState<Set<string>>(new Set());
  const [months, setMonths] = useState<Set<number>>(new Set());
  const [sameProvince, setSameProvince] = useState(false);
  const [resolution, setResolution] = useState<(typeof RESOLUTIONS)[number]>(1024);

  const clamp = (n: number) => Math.min(12, Math.max(1, Math.round(n) || 1));
  const toggle = <T,>(set: Set<T>, v: T): Set<T> => {
    const next = new Set(set);
    if (next.has(v)) next.delete(v);
    else next.add(v);
    return next;
  };

  return (
    <form className="form" onSubmit={(e) => e.preventDefault()}>
      <div className="field">
        <label className="label" htmlFor="smart-groups">
          {t('smart.groups')}
        </label>
        <div className="stepper">
          <button type="button" className="btn" aria-label={t('smart.fewer')} onClick={() => setGroups((g) => clamp(g - 1))} disabled={groups <= 1}>
            −
          </button>
          <input
            id="smart-groups"
            className="input"
            type="number"
            min={1}
            max={12}
            step={1}
            value={groups}
            aria-describedby="smart-groups-hint"
            onChange={(e) => setGroups(clamp(Number(e.target.value)))}
          />
          <button type="button" className="btn" aria-label={t('smart.more')} onClick={() => setGroups((g) => clamp(g + 1))} disabled={groups >= 12}>
            +
          </button>
        </div>
        <p id="smart-groups-hint" className="muted small">
          {t('smart.groupsHint')}
        </p>
      </div>

      <fieldset className="fieldset">
        <legend className="label">
          {t('smart.provinces')} <span className="muted">{t('common.optional')}</span>
          {provs.size > 0 && (
            <button type="button" className="link-btn" onClick={() => setProvs(new Set())}>
              {t('common.clear')}
            </button>
          )}
        </legend>
        <p className="muted small">{t('smart.provincesHint')}</p>
        {provincesError ? (
          <PoolError error={provincesError} reload={reload} />
        ) : !provinces ? (
          <p className="muted">{t('app.loading')}</p>
        ) : (
          <div className="chips">
            {provinces.map((p) => (
              <label key={p.code} className={`chip${provs.has(p.code) ? ' is-on' : ''}`}>
                <input type="checkbox" checked={provs.has(p.code)} onChange={() => setProvs((s) => toggle(s, p.code))} />
                <span>{lang === 'en' ? p.pinyin : p.short}</span>
              </label>
            ))}
          </div>
        )}
      </fieldset>

      <fieldset className="fieldset">
        <legend className="label">
          {t('smart.months')} <span className="muted">{t('common.optional')}</span>
          {months.size > 0 && (
            <button type="button" className="link-btn" onClick={() => setMonths(new Set())}>
              {t('common.clear')}
            </button>
          )}
        </legend>
        <p className="muted small">{t('smart.monthsHint')}</p>
        <div className="chips">
          {MONTHS.map((m) => (
            <label key={m} className={`chip${months.has(m) ? ' is-on' : ''}`}>
              <input type="checkbox" checked={months.has(m)} onChange={() => setMonths((s) => toggle(s, m))} />
              <span>{monthName(m)}</span>
            </label>
          ))}
        </div>
      </fieldset>

      <label className="check">
        <input type="checkbox" checked={sameProvince} onChange={(e) => setSameProvince(e.target.checked)} />
        <span>{t('smart.allowSameProvince')}</span>
      </label>

      <fieldset className="fieldset">
        <legend className="label">{t('smart.resolution')}</legend>
        <div className="segmented">
          {RESOLUTIONS.map((r) => (
            <label key={r} className={resolution === r ? 'is-on' : ''}>
              <input type="radio" name="smart-resolution" value={r} checked={resolution === r} onChange={() => setResolution(r)} />
              <span>{t('smart.resolutionValue', { px: r })}</span>
            </label>
          ))}
        </div>
      </fieldset>
    </form>
  );
}
