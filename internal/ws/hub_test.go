package ws_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/ws"
)

func newHub(t *testing.T, buffer int) *ws.MemoryHub {
	t.Helper()
	h, err := ws.NewMemoryHub(buffer, prometheus.NewRegistry())
	require.NoError(t, err)
	t.Cleanup(func() { _ = h.Close() })
	return h
}

func TestMemoryHubFanOut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHub(t, 0)
	s1, err := h.Subscribe(ctx, "a")
	require.NoError(t, err)
	s2, err := h.Subscribe(ctx, "a")
	require.NoError(t, err)
	other, err := h.Subscribe(ctx, "b")
	require.NoError(t, err)

	require.NoError(t, h.Publish(ctx, "a", 7))
	require.Equal(t, ws.Notice{BatchID: "a", Seq: 7}, <-s1.C())
	require.Equal(t, ws.Notice{BatchID: "a", Seq: 7}, <-s2.C())
	require.Empty(t, other.C())

	s1.Close()
	s1.Close() // twice is fine
	_, open := <-s1.C()
	require.False(t, open)
	require.NoError(t, h.Publish(ctx, "a", 8))
	require.Equal(t, int64(8), (<-s2.C()).Seq)
}

func TestMemoryHubOverflowMarksLagged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHub(t, 2)
	s, err := h.Subscribe(ctx, "a")
	require.NoError(t, err)
	lagger, ok := s.(interface{ Lagged() bool })
	require.True(t, ok)
	require.False(t, lagger.Lagged())
	for seq := int64(1); seq <= 10; seq++ {
		require.NoError(t, h.Publish(ctx, "a", seq)) // never blocks
	}
	require.Len(t, s.C(), 2)
	require.True(t, lagger.Lagged())
	require.False(t, lagger.Lagged(), "Lagged clears")
}

func TestMemoryHubLifecycle(t *testing.T) {
	t.Parallel()
	h := newHub(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := h.Subscribe(ctx, "a")
	require.NoError(t, err)
	cancel()
	_, open := <-s.C() // the context ends the subscription
	require.False(t, open)

	s2, err := h.Subscribe(context.Background(), "a")
	require.NoError(t, err)
	h.WakeAll()
	require.Equal(t, ws.Notice{BatchID: "a"}, <-s2.C())

	require.NoError(t, h.Close())
	require.NoError(t, h.Close())
	_, open = <-s2.C()
	require.False(t, open)
	_, err = h.Subscribe(context.Background(), "a")
	require.ErrorIs(t, err, ws.ErrHubClosed)
	require.ErrorIs(t, h.Publish(context.Background(), "a", 1), ws.ErrHubClosed)
}
