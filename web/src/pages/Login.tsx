import { useState, type FormEvent } from 'react';
import { api, type Meta, type User } from '../api';
import { ErrorNote, Notice } from '../components/common';
import { LangSwitch } from '../components/LangSwitch';
import { SimulatedBanner } from '../components/SimulatedBanner';
import { useI18n } from '../i18n/context';
import { Logo } from '../Layout';

interface Props {
  meta: Meta | null;
  metaError: unknown;
  notice: 'login.loggedOut' | 'login.passwordChanged' | 'login.sessionExpired' | null;
  onSignedIn: (u: User) => void;
}

export function LoginPage({ meta, metaError, notice, onSignedIn }: Props) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!username.trim() || !password) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    try {
      const r = await api.login(username.trim(), password);
      onSignedIn(r.user);
    } catch (err) {
      setError(err);
      setPassword('');
      setBusy(false);
    }
  };

  return (
    <div className="login-page">
      <SimulatedBanner meta={meta} metaError={metaError} />
      <div className="login-top">
        <LangSwitch />
      </div>
      <main id="main" className="login-main">
        <form className="card login-card" onSubmit={submit} noValidate aria-labelledby="login-title">
          <div className="login-brand">
            <Logo />
            <div>
              <div className="brand-name">{t('app.name')}</div>
              <div className="muted small">{t('app.tagline')}</div>
            </div>
          </div>
          <h1 id="login-title">{t('login.title')}</h1>
          <p className="muted">{t('login.subtitle')}</p>
          {notice && <Notice kind={notice === 'login.sessionExpired' ? 'warn' : 'success'}>{t(notice)}</Notice>}
          <div className="field">
            <label htmlFor="login-username" className="label">
              {t('login.username')}
            </label>
            <input
              id="login-username"
              name="username"
              className="input"
              autoComplete="username"
              autoCapitalize="none"
              spellCheck={false}
              autoFocus
              value={username}
              onChange={(e) => setUsername(e.target.value)}
              aria-invalid={missing && !username.trim() ? true : undefined}
            />
          </div>
          <div className="field">
            <label htmlFor="login-password" className="label">
              {t('login.password')}
            </label>
            <input
              id="login-password"
              name="password"
              type="password"
              className="input"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
              aria-invalid={missing && !password ? true : undefined}
            />
          </div>
          {missing && (
            <p className="field-error" role="alert">
              {t('login.required')}
            </p>
          )}
          <ErrorNote error={error} />
          <button type="submit" className="btn btn-primary btn-block" disabled={busy}>
            {busy ? t('login.submitting') : t('login.submit')}
          </button>
        </form>
      </main>
    </div>
  );
}
