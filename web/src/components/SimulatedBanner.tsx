import type { Meta } from '../api';
import { useI18n } from '../i18n/context';

export function SimulatedBanner({ meta, metaError }: { meta: Meta | null; metaError: unknown }) {
  const { t, problem } = useI18n();
  if (metaError) {
    return (
      <div className="banner banner-error" role="alert">
        {t('banner.metaFailed', { message: problem(metaError) })}
      </div>
    );
  }
  if (!meta?.simulated) return null;
  return (
    <div className="banner banner-sim" role="status" data-testid="simulated-banner">
      <strong>{t('banner.simulated')}</strong>
      <span> · {t('banner.simulatedHint')}</span>
    </div>
  );
}
