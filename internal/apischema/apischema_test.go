package apischema_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/apischema"
)

type item struct {
	Name string `json:"name"`
}

type sample struct {
	Role   string   `json:"role" enum:"operator,admin"`
	Size   int      `json:"size" enum:"1024,1536"`
	Events []string `json:"events,omitempty" enum:"batch.done,group.done"`
	Items  []*item  `json:"items" nonnull:""`
	Maybe  []*item  `json:"maybe"`
	Note   *string  `json:"note" example:"hi" doc:"A note."`
}

// TestFieldTags: enum tags restrict strings, integers and slice elements;
// pointer elements of a slice are never null; nonnull drops null from a
// slice; a pointer without omitempty may be null.
func TestFieldTags(t *testing.T) {
	raw := apischema.New().Add("Item", item{}, "").Add("Sample", sample{}, "").JSON()
	var doc struct {
		Schemas map[string]struct {
			Properties map[string]json.RawMessage `json:"properties"`
			Required   []string                   `json:"required"`
		} `json:"schemas"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	p := doc.Schemas["Sample"].Properties
	require.JSONEq(t, `{"type":"string","enum":["operator","admin"]}`, string(p["role"]))
	require.JSONEq(t, `{"type":"integer","enum":[1024,1536]}`, string(p["size"]))
	require.JSONEq(t, `{"type":"array","items":{"type":"string","enum":["batch.done","group.done"]}}`, string(p["events"]))
	require.JSONEq(t, `{"type":"array","items":{"$ref":"#/components/schemas/Item"}}`, string(p["items"]))
	require.JSONEq(t, `{"type":["array","null"],"items":{"$ref":"#/components/schemas/Item"}}`, string(p["maybe"]))
	require.JSONEq(t, `{"type":["string","null"],"examples":["hi"],"description":"A note."}`, string(p["note"]))
	require.Equal(t, []string{"items", "maybe", "note", "role", "size"}, doc.Schemas["Sample"].Required)
}
