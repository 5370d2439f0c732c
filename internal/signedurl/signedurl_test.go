package signedurl

import (
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := Signer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }}
	q, exp := s.Sign("/api/v1/uploads/u1/content", "preview", "user1", time.Hour)
	require.Equal(t, now.Add(time.Hour), exp)
	uid, err := s.Verify("/api/v1/uploads/u1/content", q)
	require.NoError(t, err)
	require.Equal(t, "user1", uid)

	cases := map[string]func(){
		"other path": func() { _, err = s.Verify("/api/v1/uploads/u2/content", q) },
		"other size": func() {
			q2 := cloneQ(q)
			q2.Set("size", "full")
			_, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"other user": func() {
			q2 := cloneQ(q)
			q2.Set("uid", "user2")
			_, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"longer expiry": func() {
			q2 := cloneQ(q)
			q2.Set("exp", "1900000000")
			_, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"other key": func() {
			_, err = Signer{Key: []byte("another key another key another!"), Now: s.Now}.Verify("/api/v1/uploads/u1/content", q)
		},
	}
	for name, fn := range cases {
		fn()
		require.ErrorIs(t, err, ErrInvalid, name)
	}
	now = now.Add(time.Hour + time.Second)
	_, err = s.Verify("/api/v1/uploads/u1/content", q)
	require.ErrorIs(t, err, ErrExpired)
	require.Equal(t, fault.Gone, fault.KindOf(err))
}

func cloneQ(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}
