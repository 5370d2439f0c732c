package batchview

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func TestLiveEventData(t *testing.T) {
	t.Parallel()
	succeeded := store.ImageKind(store.ImageSucceeded)
	tests := []struct {
		name string
		kind store.EventKind
		data string
		want string
	}{
		{"succeeded image gains its links", succeeded, `{"image_id":"i1","group_id":"g"}`,
			`{"image_id":"i1","group_id":"g","urls":{"thumb":"/api/v1/images/i1/content?size=thumb",
			"preview":"/api/v1/images/i1/content?size=preview","full":"/api/v1/images/i1/content?size=full"}}`},
		{"other kinds pass through", store.ImageKind(store.ImageFailed), `{"image_id":"i1"}`, `{"image_id":"i1"}`},
		{"no image id: unchanged", succeeded, `{"group_id":"g"}`, `{"group_id":"g"}`},
		{"undecodable: unchanged", succeeded, `[1,2]`, `[1,2]`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := LiveEventData(tc.kind, json.RawMessage(tc.data))
			require.JSONEq(t, tc.want, string(got))
		})
	}
}
