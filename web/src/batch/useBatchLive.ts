import { useCallback, useEffect, useReducer, useRef, useState } from 'react';
import { api, isApiError, type Batch } from '../api';
import { clientFrame, fromStored, initialLive, isTerminalBatch, liveReducer, parseWSMessage, reconnectDelay, type LiveState } from './live';

/** How the page learns about changes: the WebSocket, or polling while the socket is down. */
export type LiveMode = 'connecting' | 'live' | 'polling' | 'idle';

export const POLL_MS = 2000;
/** While the socket is live, a view is still fetched now and then for cost, ETA and queue position. */
export const LIVE_REFRESH_MS = 15000;

export interface BatchLive {
  state: LiveState;
  mode: LiveMode;
  /** The error of the last fetch (null once a fetch succeeds again). */
  error: unknown;
  /** apply takes a view from elsewhere (the answer of a control endpoint). */
  apply: (b: Batch) => void;
  refresh: () => void;
  /** loadLog reads the stored events after the last one logged (GET …/events) into the log. */
  loadLog: () => Promise<void>;
}

function wsURL(): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${proto}//${window.location.host}/api/v1/ws`;
}

/**
 * useBatchLive keeps one batch up to date. Both paths feed the same reducer
 * (see live.ts), so they can overlap freely:
 *
 *  - the WebSocket at /api/v1/ws (same origin, session cookie): subscribe
 *    with after_seq = the last seq seen, then a snapshot and events; on any
 *    close, reconnect with backoff (0.5 s doubling to 30 s, full jitter);
 *  - polling GET /api/v1/batches/{id} every 2 s whenever the socket is not
 *    live — also when the server has no WebSocket route at all (404).
 *
 * Both stop once the batch is finished; a retry or resume that makes it
 * active again (apply) starts them again.
 */
export function useBatchLive(id: string): BatchLive {
  const [state, dispatch] = useReducer(liveReducer, initialLive);
  const [mode, setMode] = useState<LiveMode>('connecting');
  const [error, setError] = useState<unknown>(null);
  const seqRef = useRef(0);
  seqRef.current = state.seq;
  const loaded = state.batch !== null && state.batch.id === id;
  // The socket and the polling start with the first view, and only for an
  // active batch: a finished one changes only through an action (apply).
  const active = loaded && !isTerminalBatch(state.batch!.status);
  const inflight = useRef<AbortController | null>(null);

  const fetchView = useCallback(async () => {
    if (inflight.current) return; // one GET at a time
    const ctl = new AbortController();
    inflight.current = ctl;
    try {
      const b = await api.batch(id, ctl.signal);
      dispatch({ type: 'view', batch: b });
      setError(null);
    } catch (e) {
      if (!(e instanceof DOMException && e.name === 'AbortError')) setError(e);
    } finally {
      if (inflight.current === ctl) inflight.current = null;
    }
  }, [id]);

  // First load, and a fresh start when the id changes.
  useEffect(() => {
    setError(null);
    void fetchView();
    return () => {
      inflight.current?.abort();
      inflight.current = null;
    };
  }, [fetchView]);

  // The WebSocket, while the batch is active.
  useEffect(() => {
    if (!active || typeof WebSocket === 'undefined') {
      setMode(active ? 'polling' : loaded ? 'idle' : 'connecting');
      return;
    }
    let closed = false;
    let ws: WebSocket | null = null;
    let timer = 0;
    let attempt = 0;

    const connect = () => {
      if (closed) return;
      setMode((m) => (m === 'live' ? m : attempt === 0 ? 'connecting' : 'polling'));
      let socket: WebSocket;
      try {
        socket = new WebSocket(wsURL());
      } catch {
        schedule();
        return;
      }
      ws = socket;
      socket.onopen = () => {
        socket.send(clientFrame({ type: 'subscribe', batch_id: id, after_seq: seqRef.current > 0 ? seqRef.current : undefined }));
      };
      socket.onmessage = (ev) => {
        if (typeof ev.data !== 'string') return;
        const m = parseWSMessage(ev.data);
        if (m.type === 'other' || (m.batchId && m.batchId !== id)) return;
        if (m.type === 'snapshot') {
          attempt = 0;
          setMode('live');
          dispatch({ type: 'snapshot', seq: m.seq, data: m.data });
        } else if (m.type === 'event') {
          dispatch({ type: 'event', event: m.event });
        } else if (m.type === 'error') {
          if (m.code === 'subscription_failed') {
            // Subscribe again from what we have; polling covers the gap.
            setMode('polling');
            window.setTimeout(() => {
              if (!closed && socket.readyState === WebSocket.OPEN) {
                socket.send(clientFrame({ type: 'subscribe', batch_id: id, after_seq: seqRef.current || undefined }));
              }
            }, reconnectDelay(attempt++) + 100);
          } else {
            // not_found and the like: the socket will not help; polling shows the error.
            setMode('polling');
            socket.close(1000);
          }
        }
      };
      socket.onclose = () => {
        if (ws === socket) ws = null;
        if (closed) return;
        setMode('polling');
        schedule();
      };
    };

    const schedule = () => {
      if (closed) return;
      window.clearTimeout(timer);
      timer = window.setTimeout(connect, Math.max(100, reconnectDelay(attempt++)));
    };

    connect();
    return () => {
      closed = true;
      window.clearTimeout(timer);
      if (ws) {
        const s = ws;
        ws = null;
        s.onclose = null;
        s.onmessage = null;
        if (s.readyState === WebSocket.OPEN) {
          try {
            s.send(clientFrame({ type: 'unsubscribe', batch_id: id }));
          } catch {
            // closing anyway
          }
        }
        if (s.readyState === WebSocket.CONNECTING) s.onopen = () => s.close(1000);
        else s.close(1000);
      }
    };
  }, [id, active, loaded]);

  // Before the first view: retry a failed load (not a 404) every 2 s.
  const retryLoad = !loaded && error !== null && !(isApiError(error) && (error.status === 404 || error.status === 401 || error.status === 403));
  useEffect(() => {
    if (!retryLoad) return;
    const t = window.setTimeout(() => void fetchView(), POLL_MS);
    return () => window.clearTimeout(t);
  }, [retryLoad, error, fetchView]);

  // Polling: every 2 s while the socket is not live; a slow refresh while it is.
  useEffect(() => {
    if (!active) return;
    const every = mode === 'live' ? LIVE_REFRESH_MS : POLL_MS;
    const t = window.setInterval(() => {
      if (document.visibilityState === 'hidden' && mode === 'live') return;
      void fetchView();
    }, every);
    return () => window.clearInterval(t);
  }, [active, mode, fetchView]);

  // An event that leaves the view incomplete (a result's cost, the final
  // report) asks for one fetch, debounced.
  useEffect(() => {
    if (!state.stale) return;
    const t = window.setTimeout(() => {
      dispatch({ type: 'fresh' });
      void fetchView();
    }, 400);
    return () => window.clearTimeout(t);
  }, [state.stale, fetchView]);

  // A finished batch: one last fetch so cost and report are final.
  const wasActive = useRef(active);
  useEffect(() => {
    if (wasActive.current && !active) void fetchView();
    wasActive.current = active;
  }, [active, fetchView]);

  const apply = useCallback((b: Batch) => dispatch({ type: 'view', batch: b }), []);
  const lastLogged = useRef(0);
  lastLogged.current = state.log.length ? state.log[state.log.length - 1].seq : 0;
  const loadLog = useCallback(async () => {
    try {
      const r = await api.batchEvents(id, lastLogged.current);
      dispatch({ type: 'events', events: fromStored(r.items ?? []) });
    } catch {
      // The log is a convenience; the view stays right without it.
    }
  }, [id]);
  const shown: LiveState = loaded ? state : initialLive;
  return {
    state: shown,
    mode: active ? mode : loaded ? 'idle' : 'connecting',
    error,
    apply,
    refresh: () => void fetchView(),
    loadLog,
  };
}
