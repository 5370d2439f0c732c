package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/webhook"
)

func TestCheckEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{"default", nil, []string{"batch.done"}, false},
		{"both, normalised", []string{"group.done", "batch.done", "group.done"}, []string{"batch.done", "group.done"}, false},
		{"unknown", []string{"batch.done", "image.done"}, nil, true},
		{"ping is not subscribable", []string{"ping"}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := webhook.CheckEvents(tt.in)
			if tt.wantErr {
				require.ErrorIs(t, err, webhook.ErrUnknownEvent)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestBody(t *testing.T) {
	t.Parallel()
	b, err := webhook.Body("d1", webhook.EventBatchDone, time.Date(2026, 11, 28, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)),
		map[string]any{"batch_id": "b1", "succeeded": 31, "failed": 1})
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"d1","event":"batch.done","created_at":"2026-11-28T02:00:00Z",
		"data":{"batch_id":"b1","succeeded":31,"failed":1}}`, string(b))
}
