package pool

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestFormatJSON(t *testing.T) {
	t.Parallel()
	long := make([]string, 12)
	for i := range long {
		long[i] = "warm_temperate"
	}
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"scalar", 7, "7\n"},
		{"term inline", Term{ZH: "冬小麦", EN: "winter wheat", Kind: "grain"},
			`{"zh": "冬小麦", "en": "winter wheat", "kind": "grain"}` + "\n"},
		{"no HTML escaping", Text{ZH: "<村>", EN: "fish & chips"}, `{"zh": "<村>", "en": "fish & chips"}` + "\n"},
		{"empty fit lists", Fit{}, `{"zones": [], "months": [], "roads": [], "not_snow": false}` + "\n"},
		{"list of objects expands", []Text{{ZH: "a", EN: "b"}},
			"[\n  {\"zh\": \"a\", \"en\": \"b\"}\n]\n"},
		{"long scalar list inside an object expands", Fit{Zones: long, Months: []int{1}},
			"{\n  \"zones\": [\n" + repeatLines(`    "warm_temperate"`, 12) + "  ],\n  \"months\": [1],\n  \"roads\": [],\n  \"not_snow\": false\n}\n"},
		{"empty object", map[string]Text{}, "{}\n"},
		{"nested object expands", map[string]Text{"grain": {ZH: "麦", EN: "wheat"}},
			"{\n  \"grain\": {\"zh\": \"麦\", \"en\": \"wheat\"}\n}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := formatJSON(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
			require.True(t, json.Valid(got))
		})
	}
}

func repeatLines(line string, n int) string {
	s := ""
	for i := range n {
		s += line
		if i < n-1 {
			s += ","
		}
		s += "\n"
	}
	return s
}
