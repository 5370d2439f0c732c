package store

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/ludeng/ludeng/internal/plan"
)

// decodeColumn decodes a JSON column into its typed field. An undecodable
// column is an error rather than a zero value: every writer encodes these
// columns from the same types, so bad JSON means a damaged row.
func decodeColumn(name, raw string, v any) error {
	if raw == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(raw), v); err != nil {
		return fmt.Errorf("decode %s: %w", name, err)
	}
	return nil
}

// encodeColumn is the JSON a typed field is stored as. The types have no
// custom marshalers that could fail.
func encodeColumn(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return string(b)
}

// maxDecodedBatches bounds the decoded-plan cache: the batches being
// generated and polled at a time are far fewer.
const maxDecodedBatches = 256

// decodedBatches keeps the decoded params and plan of recently read
// batches. Both columns are written once (CreateBatch) and never updated,
// and a plan of 8 groups takes about a millisecond to decode — more than
// the rest of a GET of the batch — so every read of a batch after the
// first reuses the decoded values. An entry is used only while the stored
// bytes are the ones it was decoded from.
type decodedBatches struct {
	mu    sync.Mutex
	m     map[string]*decodedBatch
	order []string // batch ids, oldest first
}

type decodedBatch struct {
	rawParams, rawPlan string
	params             BatchParams
	plan               *plan.Plan
}

func (c *decodedBatches) get(id, rawParams, rawPlan string) (*decodedBatch, error) {
	c.mu.Lock()
	d := c.m[id]
	c.mu.Unlock()
	if d != nil && d.rawParams == rawParams && d.rawPlan == rawPlan {
		return d, nil
	}
	d = &decodedBatch{rawParams: rawParams, rawPlan: rawPlan, plan: &plan.Plan{}}
	if err := decodeColumn("params", rawParams, &d.params); err != nil {
		return nil, err
	}
	if err := decodeColumn("plan", rawPlan, d.plan); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*decodedBatch{}
	}
	if _, ok := c.m[id]; !ok {
		c.order = append(c.order, id)
		if len(c.order) > maxDecodedBatches {
			delete(c.m, c.order[0])
			c.order = c.order[1:]
		}
	}
	c.m[id] = d
	return d, nil
}

func (c *decodedBatches) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

func rawOr(r json.RawMessage, def string) string {
	if len(r) == 0 {
		return def
	}
	return string(r)
}
