package pipeline

import (
	"context"

	"github.com/ludeng/ludeng/internal/provider"
)

// clusterSlotName is the shared limiter's name of the generation cap.
const clusterSlotName = "pipeline"

// acquireSlot takes this node's fair slot and then, when the cap is
// cluster-wide (Deps.Limiter), one of the cluster's LUDENG_PIPELINE_CONCURRENCY
// slots. The local slot comes first so the fair order between users on this
// node decides who asks the cluster next.
func (p *Pipeline) acquireSlot(ctx context.Context, user string, priority int) (release func(), err error) {
	local, err := p.fair.acquire(ctx, user, priority)
	if err != nil || p.d.Limiter == nil {
		return local, err
	}
	shared, err := p.d.Limiter.Acquire(ctx, clusterSlotName, provider.Limits{Concurrency: p.cfg.Concurrency}, 0)
	if err != nil {
		local()
		return nil, err
	}
	return func() { shared(); local() }, nil
}
