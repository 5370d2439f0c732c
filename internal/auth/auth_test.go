package auth

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestHashVerify(t *testing.T) {
	t.Parallel()
	h, err := Hash("correct horse battery", TestParams)
	require.NoError(t, err)
	require.Contains(t, h, "$argon2id$v=19$m=1024,t=1,p=1$")
	require.NoError(t, Verify(h, "correct horse battery"))
	require.ErrorIs(t, Verify(h, "wrong"), ErrMismatch)
	require.Error(t, Verify("$2a$10$bcrypt", "x"))
	h2, err := Hash("correct horse battery", TestParams)
	require.NoError(t, err)
	require.NotEqual(t, h, h2, "salted")
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	for i := 0; i < 5; i++ {
		end, wait := th.Begin("alice", "1.1.1.1")
		require.Zero(t, wait, "attempt %d", i+1)
		end(false)
		now = now.Add(time.Minute)
	}
	// 6th attempt within 15 minutes is refused; wait until the first failure ages out.
	wait := th.Check("alice", "1.1.1.1")
	require.Equal(t, 10*time.Minute, wait)
	// Another user from the same IP is not blocked by alice's failures yet.
	require.Zero(t, th.Check("bob", "1.1.1.1"))
	// Another IP for alice is fine.
	require.Zero(t, th.Check("alice", "2.2.2.2"))
	now = now.Add(wait)
	require.Zero(t, th.Check("alice", "1.1.1.1"))

	// 20 failures from one IP over many usernames block the IP.
	ip := "3.3.3.3"
	for i := 0; i < 20; i++ {
		u := string(rune('a' + i))
		end, wait := th.Begin(u, ip)
		require.Zero(t, wait)
		end(false)
	}
	require.Positive(t, th.Check("fresh", ip))
	now = now.Add(15 * time.Minute)
	require.Zero(t, th.Check("fresh", ip))
}

func TestThrottleCountsAttemptsInFlight(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := NewThrottle(func() time.Time { return now })
	// Ten simultaneous guesses: none has failed yet, but only PerUser may run.
	var ends []func(bool)
	refused := 0
	for i := 0; i < 10; i++ {
		end, wait := th.Begin("alice", "1.1.1.1")
		if wait > 0 {
			require.Nil(t, end)
			refused++
			continue
		}
		ends = append(ends, end)
	}
	require.Len(t, ends, 5)
	require.Equal(t, 5, refused)
	for _, end := range ends {
		end(false)
		end(false) // a second call is ignored
	}
	_, wait := th.Begin("alice", "1.1.1.1")
	require.Equal(t, 15*time.Minute, wait, "five recorded failures now block the pair")

	// A success releases its reservation and clears the pair's failures.
	end, wait := th.Begin("bob", "1.1.1.1")
	require.Zero(t, wait)
	end(true)
	require.Zero(t, th.Check("bob", "1.1.1.1"))
}

func TestHashGate(t *testing.T) {
	t.Parallel()
	g := NewHashGate(2, time.Millisecond)
	ctx := context.Background()
	require.True(t, g.Acquire(ctx))
	require.True(t, g.Acquire(ctx))
	require.False(t, g.Acquire(ctx), "third concurrent hash is refused after the wait")
	g.Release()
	require.True(t, g.Acquire(ctx))
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	full := NewHashGate(1, time.Hour)
	require.True(t, full.Acquire(ctx))
	require.False(t, full.Acquire(cctx), "a cancelled request stops waiting")
}
