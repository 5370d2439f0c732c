import { PageHeader } from '../components/common';
import { useI18n } from '../i18n/context';
import { Link } from '../router';

// The batch API does not exist yet: these pages hold the place (and the
// routes) until it does.

export function HistoryPage() {
  const { t } = useI18n();
  return (
    <section>
      <PageHeader title={t('history.title')} />
      <div className="card empty-state">
        <p>{t('history.empty')}</p>
        <Link to="/new" className="btn btn-primary">
          {t('nav.new')}
        </Link>
      </div>
    </section>
  );
}

export function BatchPage({ id }: { id: string }) {
  const { t } = useI18n();
  return (
    <section>
      <PageHeader title={t('batch.title')}>
        <span className="mono">{id}</span>
      </PageHeader>
      <div className="card empty-state">
        <p>{t('batch.comingSoon')}</p>
        <Link to="/history" className="btn">
          {t('nav.history')}
        </Link>
      </div>
    </section>
  );
}
