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

type inner struct {
	A int `json:"a"`
}

type request struct {
	Mode  string `json:"mode"`
	ID    string `json:"id" required:""`
	Inner inner  `json:"inner"`
}

// TestInput: an Input type and the objects nested inline in it require
// only fields tagged required; the same nested struct elsewhere, and a
// type not marked Input, require every field without omitempty.
func TestInput(t *testing.T) {
	type requestOut request
	raw := apischema.New().Input(request{}).Add("Request", request{}, "").Add("Out", requestOut{}, "").Add("Inner", inner{}, "").JSON()
	var doc struct {
		Schemas map[string]struct {
			Properties map[string]struct {
				Ref      string   `json:"$ref"`
				Required []string `json:"required"`
			} `json:"properties"`
			Required []string `json:"required"`
		} `json:"schemas"`
	}
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, []string{"id"}, doc.Schemas["Request"].Required)
	require.Equal(t, "#/components/schemas/Inner", doc.Schemas["Request"].Properties["inner"].Ref)
	require.Equal(t, []string{"a"}, doc.Schemas["Inner"].Required)
	require.Equal(t, []string{"id", "inner", "mode"}, doc.Schemas["Out"].Required)

	// Not registered, the nested struct is inlined and optional inside the input.
	raw = apischema.New().Input(request{}).Add("Request", request{}, "").JSON()
	doc.Schemas = nil
	require.NoError(t, json.Unmarshal(raw, &doc))
	require.Equal(t, []string{"id"}, doc.Schemas["Request"].Required)
	require.Empty(t, doc.Schemas["Request"].Properties["inner"].Required)
}
