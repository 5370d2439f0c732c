package fault

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFault(t *testing.T) {
	t.Parallel()
	base := New(NotFound, "thing_missing", "No such thing.")
	derived := base.With("id", "42").Wrap(errors.New("sql: no rows"))
	wrapped := fmt.Errorf("loading: %w", derived)

	require.ErrorIs(t, wrapped, base, "copies keep matching their sentinel by code")
	require.NotErrorIs(t, wrapped, New(NotFound, "other", "x"))
	require.Equal(t, NotFound, KindOf(wrapped))
	require.Equal(t, Internal, KindOf(errors.New("plain")))
	require.Equal(t, "42", As(wrapped).Params["id"])
	require.Nil(t, base.Params, "With copies; the sentinel is not mutated")
	require.Contains(t, derived.Error(), "sql: no rows")
	require.Equal(t, "sql: no rows", errors.Unwrap(derived).Error())
	require.Equal(t, "No such thing (7).", Newf(Invalid, "c", "No such thing (%d).", 7).Detail)
}
