package pipeline

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestFairSlots: with the cap full of one user's work and many of that
// user's requests waiting, a freed slot goes to another user first, and a
// more urgent priority beats both. Grants are observed through the order in
// which waiters are served, never through timing.
func TestFairSlots(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		waiting []slotWaiter // in arrival order
		want    []string     // users served as slots free one by one
	}{
		{
			name:    "other user before the big batch",
			waiting: []slotWaiter{{user: "big", priority: 2}, {user: "big", priority: 2}, {user: "small", priority: 2}, {user: "big", priority: 2}},
			want:    []string{"small", "big", "big", "big"},
		},
		{
			name:    "priority first",
			waiting: []slotWaiter{{user: "small", priority: 2}, {user: "big", priority: 1}},
			want:    []string{"big", "small"},
		},
		{
			name:    "arrival order among equals",
			waiting: []slotWaiter{{user: "a", priority: 2}, {user: "b", priority: 2}},
			want:    []string{"a", "b"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFairSlots(2)
			ctx := context.Background()
			r1, err := f.acquire(ctx, "big", 2)
			require.NoError(t, err)
			r2, err := f.acquire(ctx, "big", 2)
			require.NoError(t, err)
			type grant struct {
				user    string
				release func()
			}
			served := make(chan grant, len(tc.waiting))
			for i, w := range tc.waiting {
				go func() {
					rel, err := f.acquire(ctx, w.user, w.priority)
					if err == nil {
						served <- grant{w.user, rel}
					}
				}()
				// The next request arrives only once this one is queued.
				for {
					if _, n := f.inFlight(); n == i+1 {
						break
					}
					runtime.Gosched()
				}
			}
			// Free the oldest held slot, one at a time: exactly one waiter
			// is served each time; its slot joins the held ones.
			held := []func(){r1, r2}
			var got []string
			for range tc.waiting {
				held[0]()
				held = held[1:]
				g := <-served
				got = append(got, g.user)
				held = append(held, g.release)
			}
			require.Equal(t, tc.want, got)
			for _, r := range held {
				r()
			}
			used, waiting := f.inFlight()
			require.Zero(t, used)
			require.Zero(t, waiting)
		})
	}
}

func TestFairSlotsCancelledWaiter(t *testing.T) {
	t.Parallel()
	f := newFairSlots(1)
	rel, err := f.acquire(context.Background(), "a", 2)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = f.acquire(ctx, "b", 2)
	require.ErrorIs(t, err, context.Canceled)
	rel()
	used, waiting := f.inFlight()
	require.Zero(t, used)
	require.Zero(t, waiting)
	rel() // idempotent
	used, _ = f.inFlight()
	require.Zero(t, used)
}

func TestMoney(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
		out  string
	}{
		{"1", 1_000_000, true, "1.00"},
		{"0.034", 34_000, true, "0.034"},
		{"12.5", 12_500_000, true, "12.50"},
		{".5", 500_000, true, "0.50"},
		{"0.0000001", 0, false, ""},
		{"-1", 0, false, ""},
		{"abc", 0, false, ""},
		{"", 0, false, ""},
	} {
		got, err := ParseMoney(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
		require.Equal(t, tc.out, FormatMoney(got))
	}
}

func TestFairSlotsCountWaitersPerUser(t *testing.T) {
	t.Parallel()
	f := newFairSlots(1)
	release, err := f.acquire(context.Background(), "a", 1)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := 0; i < 3; i++ {
		go func() { _, _ = f.acquire(ctx, "a", 1) }()
	}
	go func() { _, _ = f.acquire(ctx, "b", 1) }()
	require.Eventually(t, func() bool { _, w := f.inFlight(); return w == 4 }, 5*time.Second, time.Millisecond)
	require.Equal(t, 3, f.waitingOf("a"))
	require.Equal(t, 1, f.waitingOf("b"))
	require.Zero(t, f.waitingOf("c"))
	cancel()
	release()
}
