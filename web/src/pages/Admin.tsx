import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api, type AdminUser, type AuditEntry, type Page, type Role } from '../api';
import { ErrorNote, Notice, PageHeader, Spinner } from '../components/common';
import { useBusyAction } from '../hooks';
import { useI18n } from '../i18n/context';
import { Link } from '../router';
import { useSession } from '../session';
import { ProvidersPanel } from './AdminProviders';

type Tab = 'users' | 'audit' | 'providers';

export function AdminPage({ tab }: { tab: Tab }) {
  const { t } = useI18n();
  const { user } = useSession();
  if (user.role !== 'admin') {
    return (
      <section>
        <PageHeader title={t('admin.title')} />
        <Notice kind="warn">{t('admin.forbidden')}</Notice>
      </section>
    );
  }
  return (
    <section>
      <PageHeader title={t('admin.title')} />
      <nav className="subnav" aria-label={t('admin.tabs')}>
        <Link to="/admin/users" className={tab === 'users' ? 'is-on' : ''} aria-current={tab === 'users' ? 'page' : undefined}>
          {t('admin.users')}
        </Link>
        <Link to="/admin/audit" className={tab === 'audit' ? 'is-on' : ''} aria-current={tab === 'audit' ? 'page' : undefined}>
          {t('admin.audit')}
        </Link>
        <Link to="/admin/providers" className={tab === 'providers' ? 'is-on' : ''} aria-current={tab === 'providers' ? 'page' : undefined}>
          {t('admin.providers')}
        </Link>
        <a href="/riverui/" target="_blank" rel="noopener">
          {t('queue.riverui')}
        </a>
      </nav>
      {tab === 'users' ? <UsersPanel /> : tab === 'audit' ? <AuditPanel /> : <ProvidersPanel />}
    </section>
  );
}

/** usePaged loads a cursor-paged list and appends pages on demand. */
function usePaged<T>(load: (cursor?: string) => Promise<Page<T>>) {
  const [items, setItems] = useState<T[]>([]);
  const [cursor, setCursor] = useState('');
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    setLoading(true);
    setError(null);
    load().then(
      (p) => {
        if (!live) return;
        setItems(p.items ?? []);
        setCursor(p.next_cursor ?? '');
        setLoading(false);
      },
      (e: unknown) => {
        if (!live) return;
        setError(e);
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [tick]);

  const more = useCallback(async () => {
    if (!cursor) return;
    setLoading(true);
    setError(null);
    try {
      const p = await load(cursor);
      setItems((prev) => [...prev, ...(p.items ?? [])]);
      setCursor(p.next_cursor ?? '');
    } catch (e) {
      setError(e);
    } finally {
      setLoading(false);
    }
  }, [cursor, load]);

  return { items, setItems, cursor, loading, error, more, reload: () => setTick((n) => n + 1) };
}

function UsersPanel() {
  const { t, formatDateTime } = useI18n();
  const { user: me } = useSession();
  const users = usePaged<AdminUser>(api.listUsers);
  const [flash, setFlash] = useState('');
  const [rowError, setRowError] = useState<unknown>(null);
  const [resetFor, setResetFor] = useState<string | null>(null);

  const replace = (u: AdminUser) => users.setItems((prev) => prev.map((x) => (x.id === u.id ? u : x)));

  const patch = async (u: AdminUser, p: { role?: Role; disabled?: boolean; password?: string }, done: string) => {
    setRowError(null);
    setFlash('');
    try {
      replace(await api.updateUser(u.id, p));
      setFlash(done);
      return true;
    } catch (e) {
      setRowError(e);
      return false;
    }
  };

  return (
    <>
      <CreateUserCard
        onCreated={(u) => {
          users.setItems((prev) => [...prev, u]);
          setFlash(t('admin.created', { name: u.username }));
        }}
      />
      <section className="card" aria-labelledby="users-title">
        <h2 id="users-title">{t('admin.users')}</h2>
        {flash && <Notice kind="success">{flash}</Notice>}
        <ErrorNote error={rowError} />
        {users.error ? <ErrorNote error={users.error} onRetry={users.reload} /> : null}
        <div className="table-wrap" tabIndex={0}>
          <table className="table">
            <thead>
              <tr>
                <th scope="col">{t('admin.col.username')}</th>
                <th scope="col">{t('admin.col.role')}</th>
                <th scope="col">{t('admin.col.status')}</th>
                <th scope="col">{t('admin.col.created')}</th>
                <th scope="col">{t('common.actions')}</th>
              </tr>
            </thead>
            <tbody>
              {users.items.map((u) => {
                const self = u.id === me.id;
                return (
                  <tr key={u.id} className={u.disabled ? 'is-dim' : ''}>
                    <td>
                      <span className="mono">{u.username}</span> {self && <span className="muted">{t('admin.you')}</span>}
                    </td>
                    <td>
                      <select
                        className="input input-small"
                        aria-label={t('admin.roleOf', { name: u.username })}
                        value={u.role}
                        disabled={self}
                        onChange={(e) => patch(u, { role: e.target.value as Role }, t('admin.updated', { name: u.username }))}
                      >
                        <option value="operator">{t('role.operator')}</option>
                        <option value="admin">{t('role.admin')}</option>
                      </select>
                    </td>
                    <td>
                      <span className={`pill ${u.disabled ? 'pill-revoked' : 'pill-active'}`}>
                        {t(u.disabled ? 'admin.status.disabled' : 'admin.status.active')}
                      </span>
                    </td>
                    <td>{formatDateTime(u.created_at)}</td>
                    <td>
                      <div className="cell-actions">
                        {!self && (
                          <button
                            type="button"
                            className={`btn btn-small${u.disabled ? '' : ' btn-danger-outline'}`}
                            onClick={() => patch(u, { disabled: !u.disabled }, t('admin.updated', { name: u.username }))}
                          >
                            {t(u.disabled ? 'admin.enable' : 'admin.disable')}
                            <span className="sr-only"> {u.username}</span>
                          </button>
                        )}
                        {resetFor === u.id ? (
                          <ResetPasswordForm
                            user={u}
                            onCancel={() => setResetFor(null)}
                            onSubmit={async (pw) => {
                              if (await patch(u, { password: pw }, t('admin.passwordReset', { name: u.username }))) setResetFor(null);
                            }}
                          />
                        ) : (
                          <button type="button" className="btn btn-small" onClick={() => setResetFor(u.id)}>
                            {t('admin.resetPassword')}
                            <span className="sr-only"> {u.username}</span>
                          </button>
                        )}
                      </div>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
        {users.loading && <Spinner />}
        {!users.loading && users.cursor && (
          <button type="button" className="btn" onClick={users.more}>
            {t('common.loadMore')}
          </button>
        )}
      </section>
    </>
  );
}

function ResetPasswordForm({ user, onSubmit, onCancel }: { user: AdminUser; onSubmit: (pw: string) => Promise<void>; onCancel: () => void }) {
  const { t } = useI18n();
  const [pw, setPw] = useState('');
  const [busy, setBusy] = useState(false);
  const id = `reset-${user.id}`;
  return (
    <form
      className="inline-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        await onSubmit(pw);
        setBusy(false);
      }}
    >
      <label htmlFor={id} className="sr-only">
        {t('admin.newPassword', { name: user.username })}
      </label>
      <input
        id={id}
        type="password"
        className="input input-small"
        autoComplete="new-password"
        placeholder={t('admin.newPassword', { name: user.username })}
        value={pw}
        onChange={(e) => setPw(e.target.value)}
        autoFocus
      />
      <button type="submit" className="btn btn-small btn-primary" disabled={busy || !pw}>
        {t('common.save')}
      </button>
      <button type="button" className="btn btn-small btn-ghost" onClick={onCancel}>
        {t('common.cancel')}
      </button>
    </form>
  );
}

function CreateUserCard({ onCreated }: { onCreated: (u: AdminUser) => void }) {
  const { t } = useI18n();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('operator');
  const { busy, error, run } = useBusyAction();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    await run(async () => {
      const u = await api.createUser(username.trim(), password, role);
      setUsername('');
      setPassword('');
      setRole('operator');
      onCreated(u);
    });
  };

  return (
    <section className="card" aria-labelledby="create-user-title">
      <h2 id="create-user-title">{t('admin.createUser')}</h2>
      <form className="form form-inline" onSubmit={submit}>
        <div className="field">
          <label htmlFor="nu-name" className="label">
            {t('admin.username')}
          </label>
          <input
            id="nu-name"
            className="input"
            autoComplete="off"
            autoCapitalize="none"
            spellCheck={false}
            aria-describedby="nu-name-hint"
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
          <p id="nu-name-hint" className="muted small">
            {t('admin.usernameHint')}
          </p>
        </div>
        <div className="field">
          <label htmlFor="nu-pw" className="label">
            {t('admin.password')}
          </label>
          <input
            id="nu-pw"
            type="password"
            className="input"
            autoComplete="new-password"
            aria-describedby="nu-pw-hint"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          <p id="nu-pw-hint" className="muted small">
            {t('admin.passwordHint')}
          </p>
        </div>
        <div className="field">
          <label htmlFor="nu-role" className="label">
            {t('admin.role')}
          </label>
          <select id="nu-role" className="input" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            <option value="operator">{t('role.operator')}</option>
            <option value="admin">{t('role.admin')}</option>
          </select>
        </div>
        <button type="submit" className="btn btn-primary" disabled={busy || !username.trim() || !password}>
          {t('admin.create')}
        </button>
      </form>
      <ErrorNote error={error} />
    </section>
  );
}

function AuditPanel() {
  const { t, formatDateTime } = useI18n();
  const audit = usePaged<AuditEntry>(api.listAudit);
  return (
    <section className="card" aria-labelledby="audit-title">
      <h2 id="audit-title">{t('admin.audit')}</h2>
      {audit.error ? <ErrorNote error={audit.error} onRetry={audit.reload} /> : null}
      {!audit.loading && !audit.error && audit.items.length === 0 ? (
        <p className="muted">{t('admin.noAudit')}</p>
      ) : (
        <div className="table-wrap" tabIndex={0}>
          <table className="table table-compact">
            <thead>
              <tr>
                <th scope="col">{t('admin.col.at')}</th>
                <th scope="col">{t('admin.col.actor')}</th>
                <th scope="col">{t('admin.col.action')}</th>
                <th scope="col">{t('admin.col.target')}</th>
                <th scope="col">{t('admin.col.detail')}</th>
                <th scope="col">{t('admin.col.ip')}</th>
                <th scope="col">{t('admin.col.requestId')}</th>
              </tr>
            </thead>
            <tbody>
              {audit.items.map((a) => (
                <tr key={a.id}>
                  <td className="nowrap">{formatDateTime(a.at)}</td>
                  <td className="mono">{a.actor_name || '—'}</td>
                  <td className="mono">{a.action}</td>
                  <td className="mono small">
                    {a.target_type}
                    {a.target_id && <span className="muted"> {a.target_id.slice(0, 13)}</span>}
                  </td>
                  <td className="mono small detail-cell">{a.detail && Object.keys(a.detail).length ? JSON.stringify(a.detail) : ''}</td>
                  <td className="mono small">{a.ip || ''}</td>
                  <td className="mono small">{a.request_id || ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {audit.loading && <Spinner />}
      {!audit.loading && audit.cursor && (
        <button type="button" className="btn" onClick={audit.more}>
          {t('common.loadMore')}
        </button>
      )}
    </section>
  );
}
