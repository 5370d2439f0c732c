package httpapi

import (
	"net/http"
	"net/url"

	"github.com/ludeng/ludeng/internal/pipeline"
	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/webhook"
)

// WebhookDeps are what the webhook routes need.
type WebhookDeps struct {
	// Pipeline queues test deliveries (the delivery worker is its own).
	Pipeline *pipeline.Pipeline
	// Client is the guarded client the pipeline delivers through; its
	// CheckURL gives the verdict at save time with the same test flag.
	Client *webhook.Client
}

type webhookAPI struct {
	s *Server
	d WebhookDeps
}

// maxWebhookURL bounds a saved URL.
const maxWebhookURL = 2048

// webhookView is a webhook as the API shows it: never the secret, which
// is returned only by the PUT that creates or rotates it.
func webhookView(w *store.Webhook) map[string]any {
	return map[string]any{"id": w.ID, "url": w.URL, "events": w.Events, "created_at": w.CreatedAt, "updated_at": w.UpdatedAt}
}

func deliveryView(d *store.WebhookDelivery) map[string]any {
	v := map[string]any{"id": d.ID, "event": d.Event, "batch_id": nil, "status": d.Status, "attempts": d.Attempts,
		"last_status_code": nil, "last_error": d.LastError, "created_at": d.CreatedAt, "last_attempt_at": d.LastAttemptAt,
		"delivered_at": d.DeliveredAt}
	if d.BatchID != "" {
		v["batch_id"] = d.BatchID
	}
	if d.LastStatusCode != 0 {
		v["last_status_code"] = d.LastStatusCode
	}
	return v
}

func (a *webhookAPI) get(w http.ResponseWriter, r *http.Request) error {
	wh, err := a.s.db.WebhookByUser(r.Context(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookView(wh))
}

func (a *webhookAPI) put(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		URL          string   `json:"url"`
		Events       []string `json:"events"`
		RotateSecret bool     `json:"rotate_secret"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.URL) > maxWebhookURL {
		return webhook.ErrInvalidURL.With("max_length", maxWebhookURL)
	}
	if err := a.d.Client.CheckURL(req.URL); err != nil {
		return err
	}
	events, err := webhook.CheckEvents(req.Events)
	if err != nil {
		return err
	}
	secret, err := webhook.NewSecret()
	if err != nil {
		return err
	}
	u := UserFrom(r.Context())
	wh := &store.Webhook{UserID: u.ID, URL: req.URL, Events: events}
	var created bool
	err = a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		var err error
		if created, err = a.s.db.PutWebhook(r.Context(), tx, wh, secret, req.RotateSecret); err != nil {
			return err
		}
		// The host only: the path or query of a webhook URL may carry a token.
		host := ""
		if pu, perr := url.Parse(wh.URL); perr == nil {
			host = pu.Host
		}
		return a.s.audit(r, tx, "webhook.put", "webhook", wh.ID, map[string]any{"host": host, "events": events,
			"created": created, "rotated": req.RotateSecret && !created})
	})
	if err != nil {
		return err
	}
	v := webhookView(wh)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	if created || req.RotateSecret {
		v["secret"] = wh.Secret
	}
	return writeJSON(w, status, v)
}

func (a *webhookAPI) delete(w http.ResponseWriter, r *http.Request) error {
	err := a.s.db.InTx(r.Context(), func(tx *store.Tx) error {
		u := UserFrom(r.Context())
		if err := a.s.db.DeleteWebhook(r.Context(), tx, u.ID); err != nil {
			return err
		}
		return a.s.audit(r, tx, "webhook.delete", "user", u.ID, nil)
	})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// test queues a ping and answers 202 with the delivery; its outcome shows
// up in the delivery log.
func (a *webhookAPI) test(w http.ResponseWriter, r *http.Request) error {
	d, err := a.d.Pipeline.EnqueuePing(r.Context(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, deliveryView(d))
}

func (a *webhookAPI) deliveries(w http.ResponseWriter, r *http.Request) error {
	limit, _, err := pageParams(r, 50, 200)
	if err != nil {
		return err
	}
	wh, err := a.s.db.WebhookByUser(r.Context(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	list, next, err := a.s.db.ListWebhookDeliveries(r.Context(), wh.ID, r.URL.Query().Get("cursor"), limit)
	if err != nil {
		return err
	}
	items := make([]map[string]any, 0, len(list))
	for _, d := range list {
		items = append(items, deliveryView(d))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
}
