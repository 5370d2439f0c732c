import { useCallback, useEffect, useRef, useState } from 'react';

export interface Async<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  setData: (fn: (prev: T | undefined) => T | undefined) => void;
}

/**
 * useAsync runs load whenever deps change and keeps only the latest answer
 * (an older, slower response never overwrites a newer one). A null load
 * means "nothing to load yet".
 */
export function useAsync<T>(load: (() => Promise<T>) | null, deps: readonly unknown[]): Async<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState<boolean>(load !== null);
  const [tick, setTick] = useState(0);
  const seq = useRef(0);

  useEffect(() => {
    const my = ++seq.current;
    if (!load) {
      setDataState(undefined);
      setError(null);
      setLoading(false);
      return;
    }
    setLoading(true);
    setError(null);
    load().then(
      (v) => {
        if (seq.current !== my) return;
        setDataState(v);
        setLoading(false);
      },
      (e: unknown) => {
        if (seq.current !== my) return;
        setError(e);
        setLoading(false);
      },
    );
  }, [...deps, tick]);

  const reload = useCallback(() => setTick((n) => n + 1), []);
  const setData = useCallback((fn: (prev: T | undefined) => T | undefined) => setDataState(fn), []);
  return { data, error, loading, reload, setData };
}

/** useDebounced returns value once it has stopped changing for ms. */
export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const id = window.setTimeout(() => setV(value), ms);
    return () => window.clearTimeout(id);
  }, [value, ms]);
  return v;
}

export interface BusyAction {
  busy: boolean;
  error: unknown;
  setError: (e: unknown) => void;
  /** run clears the last error, marks the component busy while fn runs, and keeps fn's failure as error. */
  run: (fn: () => Promise<void>) => Promise<void>;
}

/**
 * useBusyAction is the busy flag and error note every button or form that
 * calls the API needs: one action at a time, its failure shown until the
 * next attempt.
 */
export function useBusyAction(): BusyAction {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }, []);
  return { busy, error, setError, run };
}
