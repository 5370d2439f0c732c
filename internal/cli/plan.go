package cli

import (
	"context"
	"errors"
)

// cmdPlan is replaced by the planner work (issue 4).
func cmdPlan(ctx context.Context, args []string, stdio IO) error {
	return errors.New("plan: not implemented yet")
}
