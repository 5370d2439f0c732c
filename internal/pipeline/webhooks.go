package pipeline

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/webhook"
)

// QueueWebhook runs deliveries apart from the batch jobs, so a slow
// receiver (up to LUDENG_WEBHOOK_TIMEOUT per attempt) never delays an
// enhance or finalize job.
const QueueWebhook = "webhook"

const (
	// webhookMaxAttempts bounds the tries of one delivery. River's backoff
	// (attempt⁴ seconds) spreads 8 attempts over about 80 minutes. The
	// delivery row counts attempts itself, because a Retry-After snooze
	// does not use up a River attempt.
	webhookMaxAttempts = 8
	// maxRetryAfter caps a receiver's Retry-After: a hostile or broken
	// receiver must not park a job for days.
	maxRetryAfter = time.Hour
	// deliveryRetention is how long settled deliveries stay in the log.
	deliveryRetention = 30 * 24 * time.Hour
)

// ErrWebhookTestPending refuses a second test while a ping is still queued,
// so the test button cannot be used to flood a URL.
var ErrWebhookTestPending = fault.New(fault.Conflict, "webhook_test_pending",
	"A test delivery is still pending; wait for it to finish.")

// WebhookArgs: deliver one webhook_deliveries row (its payload, to the
// owner's current URL, signed with the current secret).
type WebhookArgs struct {
	DeliveryID string `json:"delivery_id"`
}

// Kind implements river.JobArgs.
func (WebhookArgs) Kind() string { return "ludeng_webhook" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (WebhookArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueWebhook, MaxAttempts: webhookMaxAttempts}
}

type webhookWorker struct {
	river.WorkerDefaults[WebhookArgs]
	p *Pipeline
}

func newWebhookWorker(p *Pipeline) *webhookWorker {
	if p.d.Webhooks == nil {
		// The guard's defaults (https only, internal addresses refused) are
		// safe; only the cli's LUDENG_WEBHOOK_* settings change them.
		p.d.Webhooks, _ = webhook.NewClient(webhook.Config{})
	}
	return &webhookWorker{p: p}
}

// Timeout leaves the client's own timeout (LUDENG_WEBHOOK_TIMEOUT) to end a
// slow attempt, so a cancelled context here always means a stop.
func (w *webhookWorker) Timeout(*river.Job[WebhookArgs]) time.Duration {
	return w.p.d.Webhooks.HTTP.Timeout + 30*time.Second
}

func (w *webhookWorker) Work(ctx context.Context, job *river.Job[WebhookArgs]) (err error) {
	defer func() { w.p.count("webhook", err) }()
	return w.p.deliverWebhook(ctx, job.Args.DeliveryID)
}

// enqueueBatchDone queues batch.done for the batch's owner, when subscribed,
// in tx: the transaction that made the batch terminal (finalize, cancel).
// A rolled-back change therefore sends nothing, and a committed one always
// has its delivery.
func (p *Pipeline) enqueueBatchDone(ctx context.Context, tx *store.Tx, b *store.Batch) error {
	wh, err := p.subscribed(ctx, tx, b.UserID, webhook.EventBatchDone)
	if wh == nil || err != nil {
		return err
	}
	// Read again in tx: the caller's copy predates the status change.
	cur, err := p.db.BatchByIDTx(ctx, tx, b.ID)
	if err != nil {
		return err
	}
	imgs, err := p.db.ImagesOfTx(ctx, tx, b.ID)
	if err != nil {
		return err
	}
	counts, reasons := map[string]int{}, map[string]int{}
	for _, im := range imgs {
		counts[im.Status]++
		if im.Status != store.ImageSucceeded && im.Reason != "" {
			reasons[im.Reason]++
		}
	}
	data := map[string]any{
		"batch_id": cur.ID, "status": cur.Status, "message": cur.Message, "mode": cur.Mode,
		"images": len(imgs), "counts": counts, "reasons": reasons,
		"created_at": cur.CreatedAt, "finished_at": cur.FinishedAt,
		"links": map[string]string{"batch": "/api/v1/batches/" + cur.ID, "download": "/api/v1/batches/" + cur.ID + "/download"},
	}
	_, err = p.enqueueDelivery(ctx, tx, wh, webhook.EventBatchDone, cur.ID, data)
	return err
}

// imageSettled runs in the transaction that made im terminal: group.done
// when im was its group's last open image, then the batch's finalize job
// when it was the batch's last.
func (p *Pipeline) imageSettled(ctx context.Context, tx *store.Tx, im *store.Image) error {
	if err := p.enqueueGroupDone(ctx, tx, im); err != nil {
		return err
	}
	return p.maybeFinalize(ctx, tx, im.BatchID)
}

// enqueueGroupDone queues group.done when every image of im's group is
// terminal. Groups settle here, as their images finish, not at finalize:
// the event is meant to arrive before the whole batch is done. A group
// ended by a cancel gets none; batch.done reports it.
func (p *Pipeline) enqueueGroupDone(ctx context.Context, tx *store.Tx, im *store.Image) error {
	wh, err := p.subscribed(ctx, tx, im.UserID, webhook.EventGroupDone)
	if wh == nil || err != nil {
		return err
	}
	imgs, err := p.db.ImagesOfTx(ctx, tx, im.BatchID)
	if err != nil {
		return err
	}
	counts := map[string]int{}
	for _, x := range imgs {
		if x.GroupID != im.GroupID {
			continue
		}
		if !store.ImageTerminal(x.Status) {
			return nil
		}
		counts[x.Status]++
	}
	// The rule finalize applies: a group with any image succeeded.
	status := store.GroupFailed
	if counts[store.ImageSucceeded] > 0 {
		status = store.GroupSucceeded
	}
	data := map[string]any{"batch_id": im.BatchID, "group_id": im.GroupID, "status": status, "counts": counts,
		"links": map[string]string{"batch": "/api/v1/batches/" + im.BatchID,
			"download": "/api/v1/batches/" + im.BatchID + "/groups/" + im.GroupID + "/download"}}
	_, err = p.enqueueDelivery(ctx, tx, wh, webhook.EventGroupDone, im.BatchID, data)
	return err
}

// subscribed returns the user's webhook when it subscribes to event, nil
// (and no error) otherwise.
func (p *Pipeline) subscribed(ctx context.Context, tx *store.Tx, userID, event string) (*store.Webhook, error) {
	wh, err := p.db.WebhookByUserTx(ctx, tx, userID)
	if errors.Is(err, store.ErrWebhookNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("webhook of user: %w", err)
	}
	if !slices.Contains(wh.Events, event) {
		return nil, nil
	}
	return wh, nil
}

// enqueueDelivery stores a pending delivery with its final body and queues
// its job, in tx. The body (and its envelope id) is fixed here so every
// retry sends the same bytes and receivers can drop duplicates.
func (p *Pipeline) enqueueDelivery(ctx context.Context, tx *store.Tx, wh *store.Webhook, event, batchID string, data any) (*store.WebhookDelivery, error) {
	id := store.NewID()
	body, err := webhook.Body(id, event, p.d.Now(), data)
	if err != nil {
		return nil, fmt.Errorf("webhook body: %w", err)
	}
	d := &store.WebhookDelivery{ID: id, WebhookID: wh.ID, UserID: wh.UserID, Event: event, BatchID: batchID, Payload: body}
	if err := p.db.CreateWebhookDelivery(ctx, tx, d); err != nil {
		return nil, err
	}
	if err := p.jobs.insertTx(ctx, tx, []river.InsertManyParams{{Args: WebhookArgs{DeliveryID: id}}}); err != nil {
		return nil, err
	}
	return d, nil
}

// EnqueuePing queues a ping to the user's webhook (POST
// /api/v1/me/webhook/test). Pings take the delivery path of real events,
// retries included, so a test shows what a batch would get.
func (p *Pipeline) EnqueuePing(ctx context.Context, userID string) (*store.WebhookDelivery, error) {
	var d *store.WebhookDelivery
	err := p.db.InTx(ctx, func(tx *store.Tx) error {
		wh, err := p.db.WebhookByUserTx(ctx, tx, userID)
		if err != nil {
			return err
		}
		n, err := p.db.PendingDeliveries(ctx, tx, wh.ID, webhook.EventPing)
		if err != nil {
			return err
		}
		if n > 0 {
			return ErrWebhookTestPending
		}
		d, err = p.enqueueDelivery(ctx, tx, wh, webhook.EventPing, "", map[string]any{
			"webhook_id": wh.ID, "events": wh.Events, "message": "Test delivery from ludeng.",
		})
		return err
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// deliverWebhook makes one attempt and records it on the delivery row.
func (p *Pipeline) deliverWebhook(ctx context.Context, deliveryID string) error {
	d, err := p.db.WebhookDeliveryByID(ctx, deliveryID)
	if errors.Is(err, store.ErrDeliveryNotFound) {
		return nil // the webhook was deleted, its log with it
	}
	if err != nil {
		return err
	}
	if d.Status != store.DeliveryPending {
		return nil // settled by an earlier run of this job
	}
	wh, err := p.db.WebhookByID(ctx, d.WebhookID)
	if errors.Is(err, store.ErrWebhookNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	code, derr := webhook.Deliver(ctx, p.d.Webhooks, wh.URL, wh.Secret, d.Event, d.Payload)
	if derr != nil && ctx.Err() != nil {
		// Shutting down: not the receiver's failure, so no attempt is
		// recorded; River runs the job again after the restart.
		return ctx.Err()
	}
	attempt := d.Attempts + 1
	status, desc, retry := store.DeliveryDelivered, "", false
	if derr != nil {
		desc = describeDeliveryError(derr)
		retry = webhook.Retryable(derr) && attempt < webhookMaxAttempts
		status = store.DeliveryFailed
		if retry {
			status = store.DeliveryPending
		}
	}
	bg := context.WithoutCancel(ctx)
	if _, err := p.db.RecordWebhookAttempt(bg, d.ID, status, code, desc); err != nil {
		if errors.Is(err, store.ErrDeliveryNotFound) {
			return nil // deleted meanwhile
		}
		return err
	}
	// Neither the URL (it may embed a token) nor the secret is logged, and
	// River keeps only desc, never the raw error that quotes the URL.
	attrs := []any{slog.String("delivery_id", d.ID), slog.String("webhook_id", wh.ID), slog.String("event", d.Event),
		slog.Int("attempt", attempt), slog.Int("status_code", code)}
	if derr == nil {
		p.log.InfoContext(ctx, "webhook delivered", attrs...)
		p.pruneDeliveries(bg, wh.ID)
		return nil
	}
	attrs = append(attrs, slog.String("error", desc))
	failure := fmt.Errorf("webhook delivery %s attempt %d: %s", d.ID, attempt, desc)
	if retry {
		p.log.WarnContext(ctx, "webhook delivery failed; retrying", attrs...)
		var we *webhook.Error
		if errors.As(derr, &we) && we.RetryAfter > 0 {
			return river.JobSnooze(min(we.RetryAfter, maxRetryAfter))
		}
		return failure
	}
	p.log.WarnContext(ctx, "webhook delivery failed", attrs...)
	p.pruneDeliveries(bg, wh.ID)
	// Permanent, or out of attempts: River must not try again either.
	return river.JobCancel(failure)
}

func (p *Pipeline) pruneDeliveries(ctx context.Context, webhookID string) {
	if _, err := p.db.PruneWebhookDeliveries(ctx, webhookID, p.d.Now().Add(-deliveryRetention)); err != nil {
		p.log.WarnContext(ctx, "pruning the webhook delivery log", slog.String("webhook_id", webhookID), slog.Any("error", err))
	}
}

// describeDeliveryError is what the delivery log and River keep of a
// failure, and the delivery log is shown to the webhook's owner. So it is a
// fixed vocabulary: the HTTP status, the code of a URL refused before any
// lookup, or a kind of transport failure. It never carries the URL (whose
// path may be a credential), the resolver's address, or anything that tells
// a name resolving to an internal address apart from one that does not
// resolve at all (that would make webhooks a probe of internal DNS).
func describeDeliveryError(err error) string {
	var we *webhook.Error
	if errors.As(err, &we) && we.Status != 0 {
		return "HTTP " + strconv.Itoa(we.Status) + " " + http.StatusText(we.Status)
	}
	var ue *url.Error
	if !errors.As(err, &ue) {
		if fe := fault.As(err); fe != nil {
			return fe.Code + ": " + fe.Detail
		}
		if errors.Is(err, context.DeadlineExceeded) {
			return "timeout"
		}
		return "delivery failed"
	}
	var dnsErr *net.DNSError
	switch {
	case fault.As(ue.Err) != nil || errors.As(ue.Err, &dnsErr):
		return "host_unreachable: the host does not resolve to an allowed public address"
	case ue.Timeout():
		return "timeout"
	case errors.Is(ue.Err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(ue.Err, syscall.ECONNRESET), errors.Is(ue.Err, io.EOF), errors.Is(ue.Err, io.ErrUnexpectedEOF):
		return "connection reset"
	}
	var tlsErr *tls.CertificateVerificationError
	var recErr tls.RecordHeaderError
	if errors.As(ue.Err, &tlsErr) || errors.As(ue.Err, &recErr) || strings.Contains(ue.Err.Error(), "tls:") {
		return "TLS handshake failed"
	}
	if strings.Contains(ue.Err.Error(), "redirect") {
		return "too many redirects"
	}
	return "connection failed"
}
