package auth

import (
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
		require.Zero(t, th.Check("alice", "1.1.1.1"), "attempt %d", i+1)
		th.Fail("alice", "1.1.1.1")
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
		require.Zero(t, th.Check(u, ip))
		th.Fail(u, ip)
	}
	require.Positive(t, th.Check("fresh", ip))
	now = now.Add(15 * time.Minute)
	require.Zero(t, th.Check("fresh", ip))
}
