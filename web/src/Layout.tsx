import { useState, type ReactNode } from 'react';
import { api } from './api';
import { LangSwitch } from './components/LangSwitch';
import { SimulatedBanner } from './components/SimulatedBanner';
import { useI18n } from './i18n/context';
import type { MessageKey } from './i18n';
import { Link, isActive, useLocation } from './router';
import { useSession } from './session';

const NAV: { to: string; key: MessageKey; admin?: boolean }[] = [
  { to: '/new', key: 'nav.new' },
  { to: '/history', key: 'nav.history' },
  { to: '/pool', key: 'nav.pool' },
  { to: '/account/settings', key: 'nav.settings' },
  { to: '/admin', key: 'nav.admin', admin: true },
  { to: '/account', key: 'nav.account' },
];

export function Logo() {
  return (
    <svg className="logo" aria-hidden="true" viewBox="0 0 32 32" width="28" height="28">
      <rect width="32" height="32" rx="7" fill="#0f4c81" />
      <rect x="7" y="6" width="14" height="5" rx="1" fill="#7fc8ff" />
      <path d="M14 11v16M10 27h8" stroke="#fff" strokeWidth="2.2" strokeLinecap="round" />
      <path d="M21 8.5h4" stroke="#ffd166" strokeWidth="2.2" strokeLinecap="round" />
    </svg>
  );
}

export function Layout({ metaError, children }: { metaError: unknown; children: ReactNode }) {
  const { t } = useI18n();
  const { user, meta, signOut } = useSession();
  const { path } = useLocation();
  const [leaving, setLeaving] = useState(false);
  const nav = NAV.filter((n) => !n.admin || user.role === 'admin');
  // The most specific item wins: /account/settings is Settings, not Account.
  const current = nav.filter((n) => isActive(path, n.to)).sort((a, b) => b.to.length - a.to.length)[0]?.to;

  const logout = async () => {
    setLeaving(true);
    try {
      await api.logout();
    } catch {
      // The session may already be gone; the login page is right either way.
    }
    signOut('login.loggedOut');
  };

  return (
    <div className="shell">
      <a className="skip-link" href="#main">
        {t('app.skip')}
      </a>
      <header className="topbar">
        <Link to="/new" className="brand">
          <Logo />
          <span className="brand-name">{t('app.name')}</span>
        </Link>
        <nav aria-label={t('nav.main')} className="nav">
          {nav.map((n) => {
            // A batch page belongs to the history section.
            const on = n.to === current || (n.to === '/history' && isActive(path, '/batches'));
            return (
              <Link key={n.to} to={n.to} className={on ? 'is-active' : ''} aria-current={n.to === current ? 'page' : on ? 'true' : undefined}>
                {t(n.key)}
              </Link>
            );
          })}
        </nav>
        <div className="topbar-right">
          <LangSwitch />
          <span className="user-chip" title={t('nav.signedInAs', { name: user.username })}>
            <span className="mono">{user.username}</span>
            <span className={`role role-${user.role}`}>{t(user.role === 'admin' ? 'role.admin' : 'role.operator')}</span>
          </span>
          <button type="button" className="btn btn-ghost btn-small" onClick={logout} disabled={leaving}>
            {t('nav.logout')}
          </button>
        </div>
      </header>
      <SimulatedBanner meta={meta} metaError={metaError} />
      <main id="main" className="content" tabIndex={-1}>
        {children}
      </main>
      <footer className="footer muted small">
        <span>{t('app.tagline')}</span>
        <a href="/manual/" target="_blank" rel="noopener" data-testid="manual-link">
          {t('manual.link')}
        </a>
        {meta && <span className="mono">{t('footer.version', { version: meta.version || 'dev' })}{meta.build ? ` (${meta.build})` : ''}</span>}
      </footer>
    </div>
  );
}
