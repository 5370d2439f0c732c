import { PageHeader } from '../components/common';
import { useI18n } from '../i18n/context';
import { Link } from '../router';

export function NotFoundPage() {
  const { t } = useI18n();
  return (
    <section>
      <PageHeader title={t('notFound.title')}>{t('notFound.body')}</PageHeader>
      <Link to="/new" className="btn">
        {t('notFound.home')}
      </Link>
    </section>
  );
}
