import { Component, useCallback, useEffect, useMemo, useState, type ReactNode } from 'react';
import { api, isApiError, setUnauthorizedHandler, type Meta, type User } from './api';
import { ErrorNote, Spinner } from './components/common';
import { useI18n } from './i18n/context';
import { Layout } from './Layout';
import { AccountPage } from './pages/Account';
import { AdminPage } from './pages/Admin';
import { BatchPage } from './pages/Batch';
import { HistoryPage } from './pages/History';
import { LoginPage } from './pages/Login';
import { NewBatchPage } from './pages/NewBatch';
import { NotFoundPage } from './pages/NotFound';
import { PoolPage } from './pages/Pool';
import { SettingsPage } from './pages/Settings';
import { Redirect, navigate, useLocation } from './router';
import { SessionContext, type Session } from './session';

type Notice = 'login.loggedOut' | 'login.passwordChanged' | 'login.sessionExpired';

function safeNext(next: string | null): string {
  // Only same-app paths: never "//evil.example" or "https://…".
  if (next && next.startsWith('/') && !next.startsWith('//') && !next.startsWith('/login')) return next;
  return '/new';
}

export function App() {
  const { path, search, href } = useLocation();
  const [meta, setMeta] = useState<Meta | null>(null);
  const [metaError, setMetaError] = useState<unknown>(null);
  const [user, setUser] = useState<User | null>(null);
  const [checking, setChecking] = useState(true);
  const [probeError, setProbeError] = useState<unknown>(null);
  const [notice, setNotice] = useState<Notice | null>(null);
  const [probe, setProbe] = useState(0);

  useEffect(() => {
    api.meta().then(setMeta, setMetaError);
  }, []);

  useEffect(() => {
    let live = true;
    setChecking(true);
    setProbeError(null);
    api.me().then(
      (r) => live && (setUser(r.user), setChecking(false)),
      (e: unknown) => {
        if (!live) return;
        if (!(isApiError(e) && e.status === 401)) setProbeError(e);
        setUser(null);
        setChecking(false);
      },
    );
    return () => {
      live = false;
    };
  }, [probe]);

  const signOut = useCallback((n?: Notice) => {
    setUser(null);
    setNotice(n ?? null);
    navigate('/login', { replace: true });
  }, []);

  // A 401 from any signed-in call means the session ended elsewhere.
  useEffect(() => {
    setUnauthorizedHandler(() => {
      const here = window.location.pathname + window.location.search;
      setUser(null);
      setNotice('login.sessionExpired');
      navigate('/login?next=' + encodeURIComponent(here), { replace: true });
    });
    return () => setUnauthorizedHandler(null);
  }, []);

  const session = useMemo<Session | null>(() => (user ? { user, meta, signOut } : null), [user, meta, signOut]);

  if (checking) return <Spinner />;
  if (probeError) {
    return (
      <main className="center-page">
        <ErrorNote error={probeError} onRetry={() => setProbe((n) => n + 1)} />
      </main>
    );
  }

  if (!session) {
    if (path !== '/login') return <Redirect to={'/login' + (path === '/' ? '' : '?next=' + encodeURIComponent(href))} />;
    return (
      <LoginPage
        meta={meta}
        metaError={metaError}
        notice={notice}
        onSignedIn={(u) => {
          setUser(u);
          setNotice(null);
          navigate(safeNext(search.get('next')), { replace: true });
        }}
      />
    );
  }

  if (path === '/login') return <Redirect to={safeNext(search.get('next'))} />;

  return (
    <SessionContext.Provider value={session}>
      <Layout metaError={metaError}>
        <ErrorBoundary key={path}>
          <Page path={path} />
        </ErrorBoundary>
      </Layout>
    </SessionContext.Provider>
  );
}

function Page({ path }: { path: string }) {
  if (path === '/' || path === '') return <Redirect to="/new" />;
  if (path === '/new') return <NewBatchPage />;
  if (path === '/history') return <HistoryPage />;
  if (path === '/batches' || path === '/batches/') return <Redirect to="/history" />;
  if (path.startsWith('/batches/')) return <BatchPage id={decodeURIComponent(path.slice('/batches/'.length))} />;
  if (path === '/pool') return <PoolPage />;
  if (path === '/admin') return <Redirect to="/admin/users" />;
  if (path === '/admin/users') return <AdminPage tab="users" />;
  if (path === '/admin/audit') return <AdminPage tab="audit" />;
  if (path === '/admin/providers') return <AdminPage tab="providers" />;
  if (path === '/account') return <AccountPage />;
  // Settings live under /account/, a path the server already answers with
  // index.html (its SPA route list has no /settings).
  if (path === '/account/settings') return <SettingsPage />;
  if (path === '/settings') return <Redirect to="/account/settings" />;
  return <NotFoundPage />;
}

class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };
  static getDerivedStateFromError() {
    return { failed: true };
  }
  render() {
    return this.state.failed ? <BoundaryMessage /> : this.props.children;
  }
}

function BoundaryMessage() {
  const { t } = useI18n();
  return (
    <div className="note note-error" role="alert">
      <span>{t('error.boundary')}</span>
      <button type="button" className="btn btn-small" onClick={() => window.location.reload()}>
        {t('error.reload')}
      </button>
    </div>
  );
}
