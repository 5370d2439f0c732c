import { useEffect, useId, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { normalizeSearch } from '../format';
import { useI18n } from '../i18n/context';

export interface ComboOption {
  value: string;
  label: string;
  /** hint is shown after the label in a muted colour. */
  hint?: string;
  /** keywords are searched in addition to the label (pinyin, former names…). */
  keywords?: string;
}

interface Props {
  label: string;
  options: ComboOption[];
  value: string | null;
  onChange: (value: string | null) => void;
  placeholder?: string;
  disabled?: boolean;
  loading?: boolean;
  /** disabledText replaces the placeholder while disabled. */
  disabledText?: string;
  /**
   * onQueryChange makes the options come from the caller (a server search):
   * it gets every typed query, and the options are shown as given, unfiltered.
   */
  onQueryChange?: (q: string) => void;
  /** emptyText replaces "no results" (e.g. "type to search"). */
  emptyText?: string;
}

const MAX_SHOWN = 300;

/**
 * Combobox is a searchable single select following the WAI-ARIA 1.2 combobox
 * pattern: type to filter, arrows to move, Enter to pick, Escape to close.
 */
export function Combobox({ label, options, value, onChange, placeholder, disabled, loading, disabledText, onQueryChange, emptyText }: Props) {
  const { t } = useI18n();
  const id = useId();
  const listId = `${id}-list`;
  const [open, setOpen] = useState(false);
  const [query, setQuery] = useState('');
  const [active, setActive] = useState(0);
  const inputRef = useRef<HTMLInputElement>(null);
  const listRef = useRef<HTMLUListElement>(null);

  const selected = options.find((o) => o.value === value) ?? null;

  const indexed = useMemo(
    () => options.map((o) => ({ o, key: normalizeSearch(`${o.label} ${o.hint ?? ''} ${o.keywords ?? ''} ${o.value}`) })),
    [options],
  );
  const filtered = useMemo(() => {
    if (onQueryChange) return options.slice(0, MAX_SHOWN);
    const q = normalizeSearch(query);
    const hits = q ? indexed.filter((x) => x.key.includes(q)).map((x) => x.o) : options;
    return hits.slice(0, MAX_SHOWN);
  }, [indexed, options, query, onQueryChange]);

  useEffect(() => {
    if (!open) return;
    const el = listRef.current?.querySelector<HTMLElement>(`[data-index="${active}"]`);
    el?.scrollIntoView({ block: 'nearest' });
  }, [active, open]);

  const openList = () => {
    if (disabled) return;
    setQuery('');
    const i = selected ? options.indexOf(selected) : 0;
    setActive(i >= 0 && i < MAX_SHOWN ? i : 0);
    setOpen(true);
  };

  const pick = (o: ComboOption) => {
    onChange(o.value);
    setOpen(false);
    setQuery('');
    onQueryChange?.('');
  };

  const onKeyDown = (e: KeyboardEvent<HTMLInputElement>) => {
    switch (e.key) {
      case 'ArrowDown':
        e.preventDefault();
        if (!open) openList();
        else setActive((a) => Math.min(a + 1, filtered.length - 1));
        break;
      case 'ArrowUp':
        e.preventDefault();
        if (open) setActive((a) => Math.max(a - 1, 0));
        break;
      case 'Home':
        if (open) { e.preventDefault(); setActive(0); }
        break;
      case 'End':
        if (open) { e.preventDefault(); setActive(Math.max(filtered.length - 1, 0)); }
        break;
      case 'Enter':
        if (open && filtered[active]) {
          e.preventDefault();
          pick(filtered[active]);
        }
        break;
      case 'Escape':
        if (open) {
          e.preventDefault();
          setOpen(false);
          setQuery('');
        }
        break;
    }
  };

  const shown = open ? query : selected ? selected.label + (selected.hint ? ` · ${selected.hint}` : '') : '';
  const activeId = open && filtered[active] ? `${id}-opt-${active}` : undefined;

  return (
    <div className={`combo${open ? ' is-open' : ''}`}>
      <label htmlFor={`${id}-input`} className="label">
        {label}
      </label>
      <div className="combo-control">
        <input
          id={`${id}-input`}
          ref={inputRef}
          className="input"
          type="text"
          role="combobox"
          aria-expanded={open}
          aria-controls={listId}
          aria-autocomplete="list"
          aria-activedescendant={activeId}
          autoComplete="off"
          spellCheck={false}
          disabled={disabled}
          placeholder={disabled && disabledText ? disabledText : loading ? t('app.loading') : placeholder}
          value={shown}
          onFocus={openList}
          onClick={() => !open && openList()}
          onBlur={() => {
            setOpen(false);
            setQuery('');
          }}
          onChange={(e) => {
            setQuery(e.target.value);
            onQueryChange?.(e.target.value);
            setActive(0);
            if (!open) setOpen(true);
          }}
          onKeyDown={onKeyDown}
        />
        {selected && !disabled && (
          <button
            type="button"
            className="combo-clear"
            aria-label={`${t('common.clear')} ${label}`}
            onMouseDown={(e) => e.preventDefault()}
            onClick={() => {
              onChange(null);
              inputRef.current?.focus();
            }}
          >
            ×
          </button>
        )}
      </div>
      <ul id={listId} ref={listRef} role="listbox" aria-label={label} className="combo-list" hidden={!open}>
        {open && loading && <li className="combo-empty">{t('app.loading')}</li>}
        {open && !loading && filtered.length === 0 && <li className="combo-empty">{emptyText && !query ? emptyText : t('common.noResults')}</li>}
        {open &&
          filtered.map((o, i) => (
            <li
              key={o.value}
              id={`${id}-opt-${i}`}
              data-index={i}
              role="option"
              aria-selected={o.value === value}
              className={`combo-option${i === active ? ' is-active' : ''}${o.value === value ? ' is-selected' : ''}`}
              onMouseDown={(e) => e.preventDefault()}
              onMouseEnter={() => setActive(i)}
              onClick={() => pick(o)}
            >
              <span>{o.label}</span>
              {o.hint && <span className="muted"> {o.hint}</span>}
            </li>
          ))}
      </ul>
    </div>
  );
}
