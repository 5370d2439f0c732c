import { useLayoutEffect, useRef, type KeyboardEvent, type ReactNode } from 'react';

/**
 * A chip group as one Tab stop (WAI-ARIA roving tabindex): Tab enters the
 * group at the last focused chip, the arrow keys (and Home/End) move
 * between chips, Space toggles one. A long element list then costs one Tab
 * press instead of one per chip on the way to 开始生成.
 */
export function RovingChips({ className = 'chips', label, children }: { className?: string; label?: string; children: ReactNode }) {
  const ref = useRef<HTMLDivElement>(null);
  const active = useRef(0);
  const inputs = () => Array.from(ref.current?.querySelectorAll<HTMLInputElement>('input:not([disabled])') ?? []);
  const mark = () => {
    const list = inputs();
    if (active.current >= list.length) active.current = 0;
    list.forEach((el, i) => (el.tabIndex = i === active.current ? 0 : -1));
  };
  useLayoutEffect(mark);
  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const list = inputs();
    const i = list.indexOf(e.target as HTMLInputElement);
    if (i < 0) return;
    let next = -1;
    if (e.key === 'ArrowRight' || e.key === 'ArrowDown') next = (i + 1) % list.length;
    else if (e.key === 'ArrowLeft' || e.key === 'ArrowUp') next = (i - 1 + list.length) % list.length;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = list.length - 1;
    if (next < 0) return;
    e.preventDefault();
    active.current = next;
    mark();
    list[next].focus();
  };
  return (
    <div
      ref={ref}
      className={className}
      role="group"
      aria-label={label}
      onKeyDown={onKeyDown}
      onFocus={(e) => {
        const i = inputs().indexOf(e.target as HTMLInputElement);
        if (i >= 0 && i !== active.current) {
          active.current = i;
          mark();
        }
      }}
    >
      {children}
    </div>
  );
}
