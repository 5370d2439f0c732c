package httpapi

import (
	"net/http"
	"net/url"
	"time"

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

// Webhook is the user's webhook as the API shows it: the secret only in
// the answer of the PUT that creates or rotates it.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Events    []string  `json:"events" nonnull:"" enum:"batch.done,group.done"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	Secret    string    `json:"secret,omitempty" doc:"Signs deliveries; shown only when created or rotated."`
}

func webhookView(w *store.Webhook) Webhook {
	events := w.Events
	if events == nil {
		events = []string{}
	}
	return Webhook{ID: w.ID, URL: w.URL, Events: events, CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt}
}

// WebhookDelivery is one queued or attempted delivery.
type WebhookDelivery struct {
	ID             string     `json:"id" doc:"Also the envelope id the receiver sees."`
	Event          string     `json:"event" enum:"batch.done,group.done,ping"`
	BatchID        *string    `json:"batch_id" doc:"null for events without a batch (ping)."`
	Status         string     `json:"status" enum:"pending,delivered,failed"`
	Attempts       int        `json:"attempts"`
	LastStatusCode *int       `json:"last_status_code" doc:"null while no HTTP answer was received."`
	LastError      string     `json:"last_error"`
	CreatedAt      time.Time  `json:"created_at"`
	LastAttemptAt  *time.Time `json:"last_attempt_at"`
	DeliveredAt    *time.Time `json:"delivered_at"`
}

func deliveryView(d *store.WebhookDelivery) WebhookDelivery {
	v := WebhookDelivery{ID: d.ID, Event: d.Event, Status: d.Status, Attempts: d.Attempts, LastError: d.LastError,
		CreatedAt: d.CreatedAt, LastAttemptAt: d.LastAttemptAt, DeliveredAt: d.DeliveredAt}
	if d.BatchID != "" {
		v.BatchID = &d.BatchID
	}
	if d.LastStatusCode != 0 {
		v.LastStatusCode = &d.LastStatusCode
	}
	return v
}

// webhookRequest is the body of PUT /api/v1/me/webhook.
type webhookRequest struct {
	URL          string   `json:"url" example:"https://example.com/ludeng-hook"`
	Events       []string `json:"events,omitempty" enum:"batch.done,group.done" doc:"Default: batch.done."`
	RotateSecret bool     `json:"rotate_secret,omitempty"`
}

func (a *webhookAPI) get(w http.ResponseWriter, r *http.Request) error {
	wh, err := a.s.db.WebhookByUser(r.Context(), UserFrom(r.Context()).ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, webhookView(wh))
}

func (a *webhookAPI) put(w http.ResponseWriter, r *http.Request) error {
	var req webhookRequest
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
		v.Secret = wh.Secret
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
	items := make([]WebhookDelivery, 0, len(list))
	for _, d := range list {
		items = append(items, deliveryView(d))
	}
	return writeJSON(w, http.StatusOK, pageOf(items, next))
}
