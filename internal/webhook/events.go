package webhook

import (
	"encoding/json"
	"slices"
	"time"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/store"
)

// Event names (X-Ludeng-Event and the envelope's "event").
const (
	EventBatchDone = string(store.KindBatchDone) // a batch finished (succeeded, partly failed or cancelled)
	EventGroupDone = string(store.KindGroupDone) // a group's four images are final
	EventPing      = "ping"                      // POST /api/v1/me/webhook/test; always sent, never subscribed
)

// Events are the names a user may subscribe to, in display order.
var Events = []string{EventBatchDone, EventGroupDone}

// ErrUnknownEvent refuses an unknown name in PUT /api/v1/me/webhook.
var ErrUnknownEvent = fault.New(fault.Invalid, "webhook_event_unknown",
	"Unknown webhook event. Allowed: batch.done, group.done.")

// CheckEvents validates and normalises a subscription list: known names
// only, duplicates removed, in Events order; empty means [batch.done].
func CheckEvents(events []string) ([]string, error) {
	if len(events) == 0 {
		return []string{EventBatchDone}, nil
	}
	out := make([]string, 0, len(Events))
	for _, e := range events {
		if !slices.Contains(Events, e) {
			return nil, ErrUnknownEvent.With("event", e)
		}
	}
	for _, e := range Events {
		if slices.Contains(events, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// Envelope is the JSON body of every delivery. ID is unique per delivery
// (not per attempt), so receivers can drop a retry they already processed.
type Envelope struct {
	ID        string          `json:"id"`
	Event     string          `json:"event"`
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Body encodes an envelope; data is marshalled as the "data" member.
func Body(id, event string, createdAt time.Time, data any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Envelope{ID: id, Event: event, CreatedAt: createdAt.UTC(), Data: raw})
}
