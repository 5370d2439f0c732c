package signedurl

import (
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
)

func TestSignVerify(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := Signer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }}
	q, exp := s.Sign("/api/v1/uploads/u1/content", "preview", "user1", 7, time.Hour)
	require.Equal(t, now.Add(time.Hour), exp)
	uid, gen, err := s.Verify("/api/v1/uploads/u1/content", q)
	require.NoError(t, err)
	require.Equal(t, "user1", uid)
	require.Equal(t, int64(7), gen)

	cases := map[string]func(){
		"other path": func() { _, _, err = s.Verify("/api/v1/uploads/u2/content", q) },
		"other size": func() {
			q2 := cloneQ(q)
			q2.Set("size", "full")
			_, _, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"other user": func() {
			q2 := cloneQ(q)
			q2.Set("uid", "user2")
			_, _, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"longer expiry": func() {
			q2 := cloneQ(q)
			q2.Set("exp", "1900000000")
			_, _, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"other generation": func() {
			q2 := cloneQ(q)
			q2.Set("g", "8")
			_, _, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"generation dropped": func() {
			q2 := cloneQ(q)
			q2.Del("g")
			_, _, err = s.Verify("/api/v1/uploads/u1/content", q2)
		},
		"other key": func() {
			_, _, err = Signer{Key: []byte("another key another key another!"), Now: s.Now}.Verify("/api/v1/uploads/u1/content", q)
		},
	}
	for name, fn := range cases {
		fn()
		require.ErrorIs(t, err, ErrInvalid, name)
	}
	now = now.Add(time.Hour + time.Second)
	_, _, err = s.Verify("/api/v1/uploads/u1/content", q)
	require.ErrorIs(t, err, ErrExpired)
	require.Equal(t, fault.Gone, fault.KindOf(err))
}

// TestVersion1LinksReadAsGenerationZero: links signed before generations
// existed stay valid until they expire, for users who never bumped theirs.
func TestVersion1LinksReadAsGenerationZero(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	s := Signer{Key: []byte("0123456789abcdef0123456789abcdef"), Now: func() time.Time { return now }}
	exp := now.Add(time.Hour).Unix()
	q := url.Values{"exp": {strconv.FormatInt(exp, 10)}, "uid": {"user1"}, "sig": {s.mac("/p", "", "user1", exp, "")}}
	uid, gen, err := s.Verify("/p", q)
	require.NoError(t, err)
	require.Equal(t, "user1", uid)
	require.Zero(t, gen)
}

func cloneQ(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}
