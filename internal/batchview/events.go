package batchview

import (
	"encoding/json"

	"github.com/ludeng/ludeng/internal/store"
)

// LiveEventData is a stored event's data as the WebSocket stream sends it:
// an image.succeeded event gains the image's content links, so a client
// can show the image without fetching the batch. Other events, and data
// that does not decode, pass through unchanged.
func LiveEventData(kind store.EventKind, data json.RawMessage) json.RawMessage {
	if kind != store.ImageKind(store.ImageSucceeded) {
		return data
	}
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return data
	}
	if id, _ := m["image_id"].(string); id != "" {
		m["urls"] = ContentURLs(id)
		if b, err := json.Marshal(m); err == nil {
			return b
		}
	}
	return data
}
