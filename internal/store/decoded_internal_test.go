package store

import (
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDecodedBatchesBounded: the decoded-plan cache keeps at most
// maxDecodedBatches batches (the oldest go first) and drops a deleted one.
func TestDecodedBatchesBounded(t *testing.T) {
	t.Parallel()
	var c decodedBatches
	for i := range maxDecodedBatches + 10 {
		_, err := c.get(strconv.Itoa(i), `{"aspect":"1:1"}`, `{"mode":"smart"}`)
		require.NoError(t, err)
	}
	require.Len(t, c.m, maxDecodedBatches)
	require.NotContains(t, c.m, "0")
	require.Contains(t, c.m, strconv.Itoa(maxDecodedBatches+9))

	// Different stored bytes are decoded again, not served stale.
	d, err := c.get("x", `{}`, `{"mode":"smart"}`)
	require.NoError(t, err)
	d2, err := c.get("x", `{}`, `{"mode":"manual"}`)
	require.NoError(t, err)
	require.Equal(t, "manual", d2.plan.Mode)
	require.NotSame(t, d.plan, d2.plan)

	c.forget("x")
	require.NotContains(t, c.m, "x")
}
