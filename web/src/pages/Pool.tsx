import { useEffect, useMemo, useRef, useState } from 'react';
import { api, type PoolVersion, type Province, type Region, type RegionMatch, type Term } from '../api';

/** A listed region: a province's county, or a search result with what matched. */
type ListedRegion = Region & Partial<Pick<RegionMatch, 'matched_field' | 'matched_text'>>;
import { ErrorNote, Notice, PageHeader, Spinner } from '../components/common';
import { normalizeSearch } from '../format';
import { useAsync, useDebounced } from '../hooks';
import type { MessageKey } from '../i18n';
import { useI18n } from '../i18n/context';
import { isPoolMissing, useZoneName } from './NewBatch';

const TERM_LISTS: { key: keyof Pick<Region, 'terrain' | 'crops' | 'plants' | 'architecture' | 'water' | 'landmarks'>; label: MessageKey }[] = [
  { key: 'terrain', label: 'pool.terrain' },
  { key: 'crops', label: 'pool.crops' },
  { key: 'plants', label: 'pool.plants' },
  { key: 'architecture', label: 'pool.architecture' },
  { key: 'water', label: 'pool.water' },
  { key: 'landmarks', label: 'pool.landmarks' },
];

export function PoolPage() {
  const { t } = useI18n();
  const provinces = useAsync(() => api.provinces(), []);
  const version = useAsync(() => api.poolVersion(), []);
  const [province, setProvince] = useState<string | null>(null);
  const [region, setRegion] = useState<Region | null>(null);
  const [q, setQ] = useState('');
  const dq = useDebounced(q.trim(), 250);

  const counties = useAsync(province ? () => api.counties(province) : null, [province]);
  const search = useAsync(dq ? () => api.searchRegions(dq) : null, [dq]);

  const detailRef = useRef<HTMLElement>(null);
  const showRegion = (r: Region) => {
    setRegion(r);
    // On narrow screens the detail sits below the lists: bring it into view.
    window.requestAnimationFrame(() => detailRef.current?.scrollIntoView?.({ block: 'nearest', behavior: 'smooth' }));
  };

  if (provinces.error && isPoolMissing(provinces.error)) {
    return (
      <section>
        <PageHeader title={t('pool.title')}>{t('pool.intro')}</PageHeader>
        <Notice kind="warn">{t('pool.notReady')}</Notice>
      </section>
    );
  }

  return (
    <section>
      <PageHeader title={t('pool.title')}>{t('pool.intro')}</PageHeader>

      <div className="field pool-search" role="search">
        <label htmlFor="pool-q" className="label">
          {t('pool.search')}
        </label>
        <input
          id="pool-q"
          type="search"
          className="input"
          placeholder={t('pool.searchPlaceholder')}
          value={q}
          onChange={(e) => setQ(e.target.value)}
          autoComplete="off"
        />
      </div>

      <div className="pool-grid">
        {dq ? (
          <section className="card pool-col pool-col-wide" aria-labelledby="pool-results-title">
            <h2 id="pool-results-title">{t('pool.searchResults')}</h2>
            {search.loading ? (
              <Spinner />
            ) : search.error ? (
              <ErrorNote error={search.error} onRetry={search.reload} />
            ) : (
              <RegionList items={search.data?.items ?? []} selected={region?.code} onPick={showRegion} withProvince query={dq} />
            )}
          </section>
        ) : (
          <>
            <section className="card pool-col" aria-labelledby="pool-prov-title">
              <h2 id="pool-prov-title">
                {t('pool.provinces')}
                {provinces.data && <span className="badge">{provinces.data.items.length}</span>}
              </h2>
              {provinces.loading ? (
                <Spinner />
              ) : provinces.error ? (
                <ErrorNote error={provinces.error} onRetry={provinces.reload} />
              ) : (
                <ProvinceList
                  items={provinces.data?.items ?? []}
                  selected={province}
                  onPick={(code) => {
                    setProvince(code);
                    setRegion(null);
                  }}
                />
              )}
            </section>
            <section className="card pool-col" aria-labelledby="pool-county-title">
              <h2 id="pool-county-title">
                {t('pool.counties')}
                {counties.data && <span className="badge">{counties.data.items.length}</span>}
              </h2>
              {!province ? (
                <p className="muted">{t('pool.pickProvince')}</p>
              ) : counties.loading ? (
                <Spinner />
              ) : counties.error ? (
                <ErrorNote error={counties.error} onRetry={counties.reload} />
              ) : (
                <RegionList items={counties.data?.items ?? []} selected={region?.code} onPick={showRegion} />
              )}
            </section>
          </>
        )}
        <section className="card pool-detail" ref={detailRef} aria-live="polite" aria-label={region ? region.name : t('pool.pickCounty')}>
          {region ? <RegionDetail region={region} /> : <p className="muted">{t('pool.pickCounty')}</p>}
        </section>
      </div>

      {version.data && <VersionLine v={version.data} />}
    </section>
  );
}

function VersionLine({ v }: { v: PoolVersion }) {
  const { t, formatDateTime } = useI18n();
  const at = v.loaded_at;
  const version = (v.number ? `#${v.number} · ` : '') + v.version.slice(0, 12);
  return (
    <p className="muted small pool-version">
      {at ? t('pool.version', { version, at: formatDateTime(at) }) : t('pool.versionOnly', { version })}
    </p>
  );
}

function ProvinceList({ items, selected, onPick }: { items: Province[]; selected: string | null; onPick: (code: string) => void }) {
  const { t, lang } = useI18n();
  if (items.length === 0) return <p className="muted">{t('common.empty')}</p>;
  return (
    <ul className="pick-list" aria-label={t('pool.provinces')} data-testid="province-list">
      {items.map((p) => (
        <li key={p.code}>
          <button type="button" className={p.code === selected ? 'is-on' : ''} aria-pressed={p.code === selected} onClick={() => onPick(p.code)}>
            <span>{lang === 'en' ? p.pinyin : p.name}</span>
            <span className="muted small">{t('pool.countyCount', { count: p.county_count })}</span>
          </button>
        </li>
      ))}
    </ul>
  );
}

function RegionList({
  items,
  selected,
  onPick,
  withProvince,
  query,
}: {
  items: ListedRegion[];
  selected: string | undefined;
  onPick: (r: Region) => void;
  withProvince?: boolean;
  query?: string;
}) {
  const { t, lang } = useI18n();
  const [filter, setFilter] = useState('');
  const nq = normalizeSearch(query ?? '');
  const shown = useMemo(() => {
    const f = normalizeSearch(filter);
    if (!f) return items;
    return items.filter((r) => normalizeSearch(`${r.name} ${r.pinyin} ${r.prefecture.name}`).includes(f));
  }, [items, filter]);
  useEffect(() => setFilter(''), [items]);

  if (items.length === 0) return <p className="muted">{t('common.noResults')}</p>;
  return (
    <>
      {!withProvince && items.length > 12 && (
        <input
          type="search"
          className="input input-small"
          aria-label={t('manual.countyPlaceholder')}
          placeholder={t('manual.countyPlaceholder')}
          value={filter}
          onChange={(e) => setFilter(e.target.value)}
        />
      )}
      <ul className="pick-list" aria-label={t('pool.counties')}>
        {shown.map((r) => {
          const alias = query ? formerName(r, nq) : undefined;
          return (
            <li key={r.code}>
              <button type="button" className={r.code === selected ? 'is-on' : ''} aria-pressed={r.code === selected} onClick={() => onPick(r)}>
                <span>
                  {lang === 'en' ? r.pinyin : r.name}
                  {alias && <span className="muted small"> ({t('pool.aliasMatch', { name: alias })})</span>}
                </span>
                <span className="muted small">
                  {withProvince ? `${r.province_name} · ${r.prefecture.name}` : lang === 'en' ? r.name : r.pinyin}
                </span>
              </button>
            </li>
          );
        })}
      </ul>
    </>
  );
}

/** formerName is the former name or code that made a search hit, if that is why it matched. */
function formerName(r: ListedRegion, nq: string): string | undefined {
  if (r.matched_field) {
    return r.matched_field === 'alias' || r.matched_field === 'old_code' ? r.matched_text : undefined;
  }
  // Servers without matched_field: find the alias ourselves.
  return (r.aliases ?? []).find((a) => normalizeSearch(`${a.name} ${a.pinyin ?? ''} ${a.code ?? ''}`).includes(nq))?.name;
}

function Terms({ items }: { items: Term[] | null }) {
  const { t, lang } = useI18n();
  if (!items || items.length === 0) return <span className="muted">{t('common.none')}</span>;
  return (
    <ul className="tags">
      {items.map((x, i) => (
        <li key={i} className="tag" title={lang === 'en' ? x.zh : x.en} lang={lang === 'en' ? 'en' : 'zh-CN'}>
          {lang === 'en' ? x.en : x.zh}
        </li>
      ))}
    </ul>
  );
}

function RegionDetail({ region: r }: { region: Region }) {
  const { t } = useI18n();
  const zoneName = useZoneName();
  return (
    <article className="region" data-testid="region-detail">
      <header>
        <h2>
          {r.name} <span className="muted region-pinyin">{r.pinyin}</span>
        </h2>
      </header>
      <dl className="facts">
        <dt>{t('pool.code')}</dt>
        <dd className="mono">{r.code}</dd>
        <dt>{t('pool.province')}</dt>
        <dd>{r.province_name}</dd>
        <dt>{t('pool.prefecture')}</dt>
        <dd>
          {r.prefecture.name} <span className="muted mono small">{r.prefecture.code}</span>
        </dd>
        <dt>{t('pool.coords')}</dt>
        <dd className="mono">
          {r.lat.toFixed(2)}°N, {r.lon.toFixed(2)}°E
        </dd>
        <dt>{t('pool.zone')}</dt>
        <dd>{zoneName(r.zone)}</dd>
        {TERM_LISTS.map((l) => (
          <FactTerms key={l.key} label={t(l.label)} items={r[l.key]} />
        ))}
        {r.aliases && r.aliases.length > 0 && (
          <>
            <dt>{t('pool.aliases')}</dt>
            <dd>
              <ul className="tags">
                {r.aliases.map((a, i) => (
                  <li key={i} className="tag tag-muted" title={a.note}>
                    {a.name}
                    {a.code && <span className="mono small"> {a.code}</span>}
                  </li>
                ))}
              </ul>
            </dd>
          </>
        )}
      </dl>
    </article>
  );
}

function FactTerms({ label, items }: { label: string; items: Term[] | null }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>
        <Terms items={items} />
      </dd>
    </>
  );
}
