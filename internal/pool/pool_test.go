package pool_test

import (
	"encoding/json"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/fault"
	"github.com/ludeng/ludeng/internal/pool"
)

// reencode rewrites every file of fsys through fn.
func reencode(t *testing.T, fsys fstest.MapFS, fn func(v any) ([]byte, error)) fstest.MapFS {
	t.Helper()
	out := fstest.MapFS{}
	for name, f := range fsys {
		var v any
		require.NoError(t, json.Unmarshal(f.Data, &v))
		b, err := fn(v)
		require.NoError(t, err)
		out[name] = &fstest.MapFile{Data: b}
	}
	return out
}

func TestVersion(t *testing.T) {
	t.Parallel()
	base := loadSmall(t)
	require.Len(t, base.Version, 64)
	require.Equal(t, base.Version, base.ComputeVersion())

	tests := []struct {
		name string
		fsys func(t *testing.T) fstest.MapFS
		same bool
	}{
		{"compact, keys sorted", func(t *testing.T) fstest.MapFS {
			return reencode(t, smallFS(t), json.Marshal)
		}, true},
		{"other indentation, keys sorted", func(t *testing.T) fstest.MapFS {
			return reencode(t, smallFS(t), func(v any) ([]byte, error) { return json.MarshalIndent(v, "", "\t") })
		}, true},
		{"a label changed", func(t *testing.T) fstest.MapFS {
			fsys := smallFS(t)
			f := fsys["roads.json"]
			f.Data = []byte(replaceOnce(t, string(f.Data), "土路", "泥土路"))
			return fsys
		}, false},
		{"elements reordered", func(t *testing.T) fstest.MapFS {
			return reencode(t, smallFS(t), func(v any) ([]byte, error) {
				if m, ok := v.(map[string]any); ok && m["elements"] != nil {
					es := m["elements"].([]any)
					es[0], es[1] = es[1], es[0]
				}
				return json.Marshal(v)
			})
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, err := pool.Load(tt.fsys(t))
			require.NoError(t, err)
			if tt.same {
				require.Equal(t, base.Version, p.Version)
			} else {
				require.NotEqual(t, base.Version, p.Version)
			}
		})
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	for i := 0; i+len(old) <= len(s); i++ {
		if s[i:i+len(old)] == old {
			return s[:i] + new + s[i+len(old):]
		}
	}
	t.Fatalf("%q not found", old)
	return ""
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	b, err := p.Encode()
	require.NoError(t, err)
	q, err := pool.Decode(b)
	require.NoError(t, err)
	require.Equal(t, p.Version, q.Version)
	require.Equal(t, p.Regions, q.Regions)
	require.Empty(t, pool.ValidateWith(q, smallMinimums))

	// A stored version is recomputed, not trusted.
	var doc map[string]any
	require.NoError(t, json.Unmarshal(b, &doc))
	doc["version"] = "forged"
	b2, err := json.Marshal(doc)
	require.NoError(t, err)
	q, err = pool.Decode(b2)
	require.NoError(t, err)
	require.Equal(t, p.Version, q.Version)

	// Decoding is as strict as Load.
	doc["colour"] = "red"
	b3, err := json.Marshal(doc)
	require.NoError(t, err)
	_, err = pool.Decode(b3)
	require.ErrorIs(t, err, pool.ErrInvalid)
	require.Equal(t, []string{`pool: colour (line 1): unknown field "colour"`}, pool.ProblemsOf(err).Strings())
}

func TestProblemsErr(t *testing.T) {
	t.Parallel()
	require.NoError(t, pool.Problems(nil).Err())

	ps := pool.Problems{
		{File: "zones.json", Where: "zones[0].zh", Code: "required", Message: "must not be empty"},
		{File: "roads.json", Where: "file", Code: "missing_file", Message: "required file is missing"},
	}
	err := ps.Err()
	require.ErrorIs(t, err, pool.ErrInvalid)
	fe := fault.As(err)
	require.NotNil(t, fe)
	require.Equal(t, fault.Unprocessable, fe.Kind)
	require.Equal(t, "pool_invalid", fe.Code)
	require.Equal(t, "The element pool has 2 problems; the first is: zones.json: zones[0].zh: must not be empty", fe.Detail)
	require.Equal(t, 2, fe.Params["count"])
	require.Equal(t, ps.Strings(), fe.Params["problems"])
	require.Equal(t, ps, pool.ProblemsOf(err))
	require.Equal(t, ps, pool.ProblemsOf(errors.Join(errors.New("other"), err)))
	require.Nil(t, pool.ProblemsOf(errors.New("plain")))
}

func TestClone(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	q := p.Clone()
	require.Equal(t, p, q)

	q.Regions[0].Crops[0].ZH = "changed"
	q.Regions[0].Aliases = append(q.Regions[0].Aliases, pool.Alias{Name: "x"})
	q.Seasons[0].CropStates["grain"] = pool.Text{ZH: "changed", EN: "changed"}
	q.Elements[0].Fit.Months = append(q.Elements[0].Fit.Months, 1)
	q.Zones[0].ZH = "changed"

	r := loadSmall(t)
	require.Equal(t, r, p, "editing a clone must not change the original")
}

func TestPutDelete(t *testing.T) {
	t.Parallel()
	p := loadSmall(t)
	v0 := p.Version
	codes := func() []string {
		var out []string
		for _, r := range p.Regions {
			out = append(out, r.Code)
		}
		return out
	}
	require.Equal(t, []string{"130104", "130503", "130581", "130703", "232701", "232722"}, codes())

	// Insert into Hebei: after Hebei's last region, before Heilongjiang.
	r := p.Regions[2]
	r.Code, r.Name, r.Pinyin = "130582", "沙河市", "Shahe Shi"
	r.Lat, r.Lon = 36.86, 114.50
	require.True(t, p.PutRegion(r))
	require.Equal(t, []string{"130104", "130503", "130581", "130703", "130582", "232701", "232722"}, codes())
	require.Empty(t, pool.ValidateWith(p, smallMinimums))

	// Replace in place.
	r.Name = "沙河市2"
	require.False(t, p.PutRegion(r))
	require.Equal(t, "沙河市2", p.Regions[4].Name)

	// A new province goes to the end in prefix order.
	r.Code = "990101"
	require.True(t, p.PutRegion(r))
	require.Equal(t, "990101", p.Regions[len(p.Regions)-1].Code)
	require.True(t, p.DeleteRegion("990101"))
	require.False(t, p.DeleteRegion("990101"))

	e := p.Elements[1]
	e.ID, e.ZH = "bicycle", "自行车"
	require.True(t, p.PutElement(e))
	require.False(t, p.PutElement(e))
	require.Equal(t, "bicycle", p.Elements[len(p.Elements)-1].ID)
	require.True(t, p.DeleteElement("bicycle"))
	require.False(t, p.DeleteElement("bicycle"))

	require.NotEqual(t, v0, p.ComputeVersion())
	require.True(t, p.DeleteRegion("130582"))
	require.Equal(t, v0, p.ComputeVersion())
}

func TestCountsString(t *testing.T) {
	t.Parallel()
	require.Equal(t,
		"6 regions (2 aliases) in 2 provinces; 2 zones × 12 months = 24 seasons; 4 roads; 5 elements in 3 categories",
		loadSmall(t).Counts().String())
}
