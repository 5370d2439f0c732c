import { useState, type FormEvent } from 'react';
import { api, type ApiToken } from '../api';
import { CopyButton, ErrorNote, PageHeader, Spinner } from '../components/common';
import { useAsync } from '../hooks';
import type { MessageKey } from '../i18n';
import { useI18n } from '../i18n/context';
import { useSession } from '../session';

const MIN_PASSWORD = 10;

export function AccountPage() {
  const { t } = useI18n();
  const { user } = useSession();
  return (
    <section>
      <PageHeader title={t('account.title')} />
      <div className="account-grid">
        <section className="card" aria-labelledby="profile-title">
          <h2 id="profile-title">{t('account.profile')}</h2>
          <dl className="facts">
            <dt>{t('account.username')}</dt>
            <dd className="mono">{user.username}</dd>
            <dt>{t('account.role')}</dt>
            <dd>{t(user.role === 'admin' ? 'role.admin' : 'role.operator')}</dd>
          </dl>
        </section>
        <PasswordCard />
      </div>
      <TokensCard />
    </section>
  );
}

function PasswordCard() {
  const { t } = useI18n();
  const { user, signOut } = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [confirm, setConfirm] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [local, setLocal] = useState<MessageKey | null>(null);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(null);
    if (next.length < MIN_PASSWORD) return setLocal('account.passwordTooShort');
    if (next !== confirm) return setLocal('account.passwordMismatch');
    setLocal(null);
    setBusy(true);
    try {
      await api.changePassword(current, next);
      // The server revoked every session, this one included.
      signOut('login.passwordChanged');
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="card" aria-labelledby="password-title">
      <h2 id="password-title">{t('account.password')}</h2>
      <form className="form" onSubmit={submit} noValidate>
        {/* A hidden username lets password managers pair the new password with the account. */}
        <input type="text" className="sr-only" autoComplete="username" value={user.username} readOnly tabIndex={-1} aria-hidden="true" />
        <div className="field">
          <label htmlFor="pw-current" className="label">
            {t('account.currentPassword')}
          </label>
          <input id="pw-current" type="password" className="input" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="pw-new" className="label">
            {t('account.newPassword')}
          </label>
          <input
            id="pw-new"
            type="password"
            className="input"
            autoComplete="new-password"
            minLength={MIN_PASSWORD}
            aria-describedby="pw-rule"
            value={next}
            onChange={(e) => setNext(e.target.value)}
            required
          />
          <p id="pw-rule" className="muted small">
            {t('account.passwordRule')}
          </p>
        </div>
        <div className="field">
          <label htmlFor="pw-confirm" className="label">
            {t('account.confirmPassword')}
          </label>
          <input id="pw-confirm" type="password" className="input" autoComplete="new-password" value={confirm} onChange={(e) => setConfirm(e.target.value)} required />
        </div>
        {local && (
          <p className="field-error" role="alert">
            {t(local)}
          </p>
        )}
        <ErrorNote error={error} />
        <button type="submit" className="btn btn-primary" disabled={busy || !current || !next || !confirm}>
          {t('account.changePassword')}
        </button>
      </form>
    </section>
  );
}

const EXPIRIES: { value: string; label: MessageKey }[] = [
  { value: '30d', label: 'account.expiry.30d' },
  { value: '90d', label: 'account.expiry.90d' },
  { value: '365d', label: 'account.expiry.365d' },
  { value: '', label: 'account.expiry.never' },
];

function tokenStatus(tok: ApiToken, now: number): 'active' | 'revoked' | 'expired' {
  if (tok.revoked_at) return 'revoked';
  if (tok.expires_at && Date.parse(tok.expires_at) <= now) return 'expired';
  return 'active';
}

function TokensCard() {
  const { t, formatDateTime } = useI18n();
  const tokens = useAsync(() => api.listTokens(), []);
  const [name, setName] = useState('');
  const [expiry, setExpiry] = useState('90d');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<{ token: string; name: string } | null>(null);
  const [confirming, setConfirming] = useState<string | null>(null);
  const [rowError, setRowError] = useState<unknown>(null);
  const now = Date.now();

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const r = await api.createToken(name.trim(), expiry);
      setCreated({ token: r.token, name: r.api_token.name });
      setName('');
      tokens.setData((prev) => (prev ? { ...prev, items: [r.api_token, ...prev.items] } : prev));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const revoke = async (id: string) => {
    setRowError(null);
    try {
      await api.revokeToken(id);
      setConfirming(null);
      tokens.reload();
    } catch (err) {
      setRowError(err);
    }
  };

  return (
    <section className="card" aria-labelledby="tokens-title">
      <h2 id="tokens-title">{t('account.tokens')}</h2>
      <p className="muted">{t('account.tokensIntro')}</p>

      {created && (
        <div className="token-once" role="status" data-testid="new-token">
          <strong>{t('account.newToken')}</strong>
          <p>{t('account.newTokenOnce')}</p>
          <div className="row">
            <input
              className="input mono"
              readOnly
              value={created.token}
              aria-label={t('account.newTokenLabel', { name: created.name })}
              onFocus={(e) => e.target.select()}
              data-testid="new-token-value"
            />
            <CopyButton text={created.token} />
          </div>
          <button type="button" className="btn btn-small btn-ghost" onClick={() => setCreated(null)}>
            {t('account.tokenSaved')}
          </button>
        </div>
      )}

      <form className="form form-inline" onSubmit={create}>
        <div className="field">
          <label htmlFor="token-name" className="label">
            {t('account.tokenName')}
          </label>
          <input
            id="token-name"
            className="input"
            maxLength={100}
            placeholder={t('account.tokenNamePlaceholder')}
            value={name}
            onChange={(e) => setName(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor="token-expiry" className="label">
            {t('account.tokenExpiry')}
          </label>
          <select id="token-expiry" className="input" value={expiry} onChange={(e) => setExpiry(e.target.value)}>
            {EXPIRIES.map((x) => (
              <option key={x.value} value={x.value}>
                {t(x.label)}
              </option>
            ))}
          </select>
        </div>
        <button type="submit" className="btn btn-primary" disabled={busy || !name.trim()}>
          {t('account.createToken')}
        </button>
      </form>
      <ErrorNote error={error} />

      {tokens.loading && !tokens.data ? (
        <Spinner />
      ) : tokens.error ? (
        <ErrorNote error={tokens.error} onRetry={tokens.reload} />
      ) : (tokens.data?.items.length ?? 0) === 0 ? (
        <p className="muted">{t('account.noTokens')}</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <ErrorNote error={rowError} />
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('account.col.name')}</th>
                <th scope="col">{t('account.col.prefix')}</th>
                <th scope="col">{t('account.col.created')}</th>
                <th scope="col">{t('account.col.expires')}</th>
                <th scope="col">{t('account.col.lastUsed')}</th>
                <th scope="col">{t('account.col.status')}</th>
                <th scope="col">
                  <span className="sr-only">{t('common.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data!.items.map((tok) => {
                const st = tokenStatus(tok, now);
                return (
                  <tr key={tok.id} className={st !== 'active' ? 'is-dim' : ''}>
                    <td>{tok.name}</td>
                    <td className="mono">{tok.prefix}…</td>
                    <td>{formatDateTime(tok.created_at)}</td>
                    <td>{tok.expires_at ? formatDateTime(tok.expires_at) : t('common.never')}</td>
                    <td>{tok.last_used_at ? formatDateTime(tok.last_used_at) : t('common.never')}</td>
                    <td>
                      <span className={`pill pill-${st}`}>{t(`account.status.${st}` as MessageKey)}</span>
                    </td>
                    <td>
                      <div className="cell-actions">
                        {st === 'active' &&
                          (confirming === tok.id ? (
                            <>
                              <button type="button" className="btn btn-small btn-danger" onClick={() => revoke(tok.id)}>
                                {t('account.revokeConfirm')}
                              </button>
                              <button type="button" className="btn btn-small btn-ghost" onClick={() => setConfirming(null)}>
                                {t('common.cancel')}
                              </button>
                            </>
                          ) : (
                            <button
                              type="button"
                              className="btn btn-small"
                              aria-label={`${t('account.revoke')} ${tok.name}`}
                              onClick={() => setConfirming(tok.id)}
                            >
                              {t('account.revoke')}
                            </button>
                          ))}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
