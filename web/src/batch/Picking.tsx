import { useEffect, useState } from 'react';
import { api, type Batch, type BatchGroup, type BatchImage, type GroupNote, type ImageVersion, type PostKitTone } from '../api';
import { CopyButton, ErrorNote } from '../components/common';
import { useBusyAction } from '../hooks';
import { useI18n } from '../i18n/context';

/** The grid image: the card (400 px wide, the image's own aspect) with the preview as the larger source. Never cropped. */
export function CardImage({ im, alt, sizes }: { im: BatchImage; alt: string; sizes: string }) {
  const w = im.width || 3;
  const h = im.height || 4;
  const card = im.urls.card ?? im.urls.thumb;
  const previewW = Math.round(Math.min(800, Math.max(w, h)) * (w >= h ? 1 : w / h));
  return (
    <img
      src={card}
      srcSet={im.urls.card && im.urls.preview ? `${im.urls.card} 400w, ${im.urls.preview} ${previewW}w` : undefined}
      sizes={sizes}
      alt={alt}
      width={w}
      height={h}
      style={{ aspectRatio: `${w} / ${h}` }}
      loading="lazy"
      decoding="async"
    />
  );
}

export function StarButton({ im, onChanged, small = true }: { im: BatchImage; onChanged: () => void; small?: boolean }) {
  const { t } = useI18n();
  const [on, setOn] = useState(!!im.starred);
  const [busy, setBusy] = useState(false);
  useEffect(() => setOn(!!im.starred), [im.starred]);
  return (
    <button
      type="button"
      className={`btn ${small ? 'btn-small ' : ''}star-btn${on ? ' is-on' : ''}`}
      aria-pressed={on}
      aria-busy={busy}
      data-testid="star"
      onClick={async () => {
        // Not disabled while busy: a disabled button drops the focus (out of the lightbox).
        if (busy) return;
        setBusy(true);
        try {
          await api.starImage(im.id, !on);
          setOn(!on);
          onChanged();
        } finally {
          setBusy(false);
        }
      }}
    >
      <span aria-hidden="true">{on ? '★' : '☆'}</span> {on ? t('pick.starred') : t('pick.star')}
    </button>
  );
}

/** The batch name: editable, the default (first groups' places) as the placeholder; it names the zips. */
export function BatchName({ b, onSaved }: { b: Batch; onSaved: () => void }) {
  const { t } = useI18n();
  const [name, setName] = useState(b.name ?? '');
  const { busy, error, run } = useBusyAction();
  const [saved, setSaved] = useState(false);
  useEffect(() => setName(b.name ?? ''), [b.name]);
  return (
    <form
      className="batch-name row wrap"
      onSubmit={async (e) => {
        e.preventDefault();
        await run(async () => {
          await api.patchBatch(b.id, { name });
          setSaved(true);
          onSaved();
        });
      }}
    >
      <label className="label" htmlFor="batch-name">
        {t('pick.name')}
      </label>
      <input
        id="batch-name"
        className="input"
        maxLength={60}
        value={name}
        placeholder={b.default_name ?? ''}
        onChange={(e) => {
          setName(e.target.value);
          setSaved(false);
        }}
      />
      <button type="submit" className="btn btn-small" disabled={busy}>
        {t('pick.saveName')}
      </button>
      {saved && <span className="muted small" role="status">{t('pick.nameSaved')}</span>}
      <ErrorNote error={error} />
    </form>
  );
}

let tonesCache: PostKitTone[] | null = null;

/** The post kit of a group: tone, write (DeepSeek or template), edit, copy. */
export function PostKit({ b, g, onSaved }: { b: Batch; g: BatchGroup; onSaved: () => void }) {
  const { t, lang } = useI18n();
  const [tones, setTones] = useState<PostKitTone[]>(tonesCache ?? []);
  const [tone, setTone] = useState(g.note?.tone ?? 'warm');
  const [note, setNote] = useState<GroupNote | null>(g.note ?? null);
  const [title, setTitle] = useState(g.note?.title ?? '');
  const [body, setBody] = useState(g.note?.body ?? '');
  const [tags, setTags] = useState((g.note?.hashtags ?? []).map((x) => '#' + x).join(' '));
  const [fallback, setFallback] = useState('');
  const id = `note-${g.id}`;

  useEffect(() => {
    if (tonesCache) return;
    api
      .postKitTones()
      .then((r) => {
        tonesCache = r.items;
        setTones(r.items);
      })
      .catch(() => undefined);
  }, []);

  const show = (n: GroupNote) => {
    setNote(n);
    setTitle(n.title);
    setBody(n.body);
    setTags(n.hashtags.map((x) => '#' + x).join(' '));
  };
  const { busy, error, run: act } = useBusyAction();
  // Every post-kit action saves something the batch view shows.
  const run = (fn: () => Promise<void>) =>
    act(async () => {
      await fn();
      onSaved();
    });
  const text = `${title}\n\n${body}\n\n${tags}`;
  const titleLen = [...title].length;
  const bodyLen = [...body].length;

  return (
    <details className="post-kit" data-testid="post-kit" open={!!note || undefined}>
      <summary>{t('kit.title')}</summary>
      <div className="row wrap kit-controls">
        <label className="label" htmlFor={`${id}-tone`}>
          {t('kit.tone')}
        </label>
        <select id={`${id}-tone`} className="input" value={tone} onChange={(e) => setTone(e.target.value)}>
          {(tones.length ? tones : [{ id: 'warm', zh: '亲切分享', en: 'Warm, personal' }]).map((x) => (
            <option key={x.id} value={x.id}>
              {lang === 'en' ? x.en : x.zh}
            </option>
          ))}
        </select>
        <button
          type="button"
          className="btn btn-small"
          disabled={busy}
          data-testid="kit-write"
          onClick={() =>
            void run(async () => {
              const n = await api.writeNote(b.id, g.id, tone);
              setFallback(n.fallback_reason ?? '');
              show(n);
            })
          }
        >
          {note ? t('kit.rewrite') : t('kit.write')}
        </button>
      </div>
      {note && (
        <div className="kit-fields" data-testid="kit-fields" data-source={note.source}>
          <p className="muted small">
            {t(`kit.source.${note.source === 'deepseek' || note.source === 'edited' ? note.source : 'template'}` as const)}
            {fallback ? ' · ' + t('kit.fallback') : ''}
          </p>
          <label className="label" htmlFor={`${id}-title`}>
            {t('kit.fieldTitle', { n: titleLen })}
          </label>
          <input id={`${id}-title`} className="input" value={title} maxLength={20} onChange={(e) => setTitle(e.target.value)} />
          <label className="label" htmlFor={`${id}-body`}>
            {t('kit.fieldBody', { n: bodyLen })}
          </label>
          <textarea id={`${id}-body`} className="input" rows={6} value={body} onChange={(e) => setBody(e.target.value)} />
          <label className="label" htmlFor={`${id}-tags`}>
            {t('kit.fieldTags')}
          </label>
          <input id={`${id}-tags`} className="input" value={tags} onChange={(e) => setTags(e.target.value)} />
          <div className="row wrap">
            <button
              type="button"
              className="btn btn-small"
              disabled={busy}
              onClick={() =>
                void run(async () => {
                  const hashtags = tags.split(/[\s,，]+/).filter(Boolean);
                  show(await api.editNote(b.id, g.id, { tone, title, body, hashtags }));
                  setFallback('');
                })
              }
            >
              {t('kit.save')}
            </button>
            <CopyButton text={text} label={t('kit.copy')} />
          </div>
        </div>
      )}
      <ErrorNote error={error} />
    </details>
  );
}

/** Earlier versions of a regenerated image; one click makes one current. */
export function Versions({ im, onSelected }: { im: BatchImage; onSelected: (b: Batch) => void }) {
  const { t, formatDateTime } = useI18n();
  const [items, setItems] = useState<ImageVersion[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const n = im.versions ?? 0;
  const current = im.urls.full;
  useEffect(() => {
    if (n < 2) return;
    api
      .imageVersions(im.id)
      .then((r) => setItems(r.items))
      .catch(setError);
  }, [im.id, n, current]);
  if (n < 2) return null;
  return (
    <div className="versions" data-testid="versions">
      <span className="label">{t('regen.versions', { count: n })}</span>
      <ul className="version-list">
        {(items ?? []).map((v, i) => (
          <li key={v.id}>
            <button
              type="button"
              className={`version${v.current ? ' is-current' : ''}`}
              aria-pressed={v.current}
              data-testid="version"
              disabled={v.current}
              onClick={async () => {
                try {
                  onSelected(await api.selectVersion(im.id, v.id));
                } catch (e) {
                  setError(e);
                }
              }}
              title={formatDateTime(v.created_at)}
            >
              <img src={v.urls.card} alt={t('regen.versionAlt', { n: i + 1 })} width={v.width} height={v.height} />
              <span className="small">
                {t('regen.versionN', { n: i + 1 })}
                {v.current ? ' · ' + t('regen.current') : ''}
                {v.instruction ? ` · “${v.instruction}”` : ''}
              </span>
            </button>
          </li>
        ))}
      </ul>
      <ErrorNote error={error} />
    </div>
  );
}

/** Regenerate one image: same scene and variant, a new seed, an optional short instruction. */
export function Regenerate({ im, disabled, onStarted }: { im: BatchImage; disabled: boolean; onStarted: (b: Batch) => void }) {
  const { t } = useI18n();
  const [instruction, setInstruction] = useState('');
  const { busy, error, run } = useBusyAction();
  const id = `regen-${im.id}`;
  return (
    <form
      className="regen row wrap"
      onSubmit={async (e) => {
        e.preventDefault();
        await run(async () => {
          onStarted(await api.regenerateImage(im.id, instruction.trim()));
          setInstruction('');
        });
      }}
    >
      <label className="label" htmlFor={id}>
        {t('regen.instruction')}
      </label>
      <input
        id={id}
        className="input"
        maxLength={120}
        value={instruction}
        placeholder={t('regen.placeholder')}
        onChange={(e) => setInstruction(e.target.value)}
      />
      <button type="submit" className="btn btn-small" disabled={busy || disabled} data-testid="regenerate">
        {t('regen.button')}
      </button>
      {disabled && <span className="muted small">{t('regen.waitBatch')}</span>}
      <ErrorNote error={error} />
    </form>
  );
}
