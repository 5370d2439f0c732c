package batchview

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/store"
)

func TestVersions(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	im := &store.Image{ID: "i", ResultKey: "results/new.jpg", Status: store.ImageSucceeded, Provider: "gemini", UpdatedAt: at,
		Prompt: "a lamp"}
	old := &store.ImageVersion{ID: "v1", ImageID: "i", ResultKey: "results/old.jpg", Instruction: "warmer"}
	cur := &store.ImageVersion{ID: "v2", ImageID: "i", ResultKey: "results/new.jpg"}
	tests := []struct {
		name    string
		im      *store.Image
		kept    []*store.ImageVersion
		wantIDs []string
	}{
		{"first result only: the current one", im, nil, []string{"current"}},
		{"replaced: the kept one, then the current", im, []*store.ImageVersion{old}, []string{"v1", "current"}},
		{"current already kept: not twice", im, []*store.ImageVersion{old, cur}, []string{"v1", "v2"}},
		{"no result yet: nothing", &store.Image{ID: "i", Status: store.ImageQueued}, nil, []string{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := Versions(tc.im, tc.kept)
			ids := []string{}
			for _, v := range got {
				ids = append(ids, v.ID)
				if v.Current {
					require.Equal(t, ResultURLs(tc.im), v.URLs, "the current version links the image's content")
				} else {
					require.Equal(t, "/api/v1/images/i/versions/"+v.ID+"/content?size=full", v.URLs.Full)
				}
			}
			require.Equal(t, tc.wantIDs, ids)
		})
	}
}

func TestNote(t *testing.T) {
	t.Parallel()
	n := Note(&store.GroupNote{GroupID: "g", Title: "T", Body: "B"}, "enhancer_unavailable")
	require.Equal(t, []string{}, n.Hashtags, "no hashtags is an empty list, not null")
	require.Equal(t, "enhancer_unavailable", n.FallbackReason)
	require.Equal(t, "T\n\nB\n\n\n", n.Text)
}

func TestDecorate(t *testing.T) {
	t.Parallel()
	g1 := testGroup("g1", 0, "延庆区", "北京市", "柏油路", 8)
	g2 := testGroup("g2", 1, "信都区", "河北省", "石板路", 7)
	done := testImage("a", "g1", store.ImageSucceeded, "image/jpeg")
	failed := testImage("b", "g1", store.ImageFailed, "image/jpeg")
	failed.ResultKey = ""
	other := testImage("c", "g2", store.ImageSucceeded, "image/jpeg")
	archived := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		label  store.BatchLabel
		notes  map[string]*store.GroupNote
		star   map[string]bool
		kept   []*store.ImageVersion
		verify func(t *testing.T, v *Batch)
	}{
		{name: "names, progress, links", verify: func(t *testing.T, v *Batch) {
			require.Empty(t, v.Name)
			require.Equal(t, "延庆区8月、信都区7月", v.DefaultName)
			require.False(t, v.Archived)
			require.Equal(t, "/api/v1/batches/b1/download?starred=true", v.StarredDownload)
			require.Equal(t, GroupProgress{Succeeded: 1, Total: 2}, v.Groups[0].Progress)
			require.Equal(t, GroupProgress{Succeeded: 1, Total: 1}, v.Groups[1].Progress)
			require.Nil(t, v.Groups[0].Note)
			a := v.Groups[0].Images[0]
			require.Equal(t, "01_延庆区_8月_清晨晴.jpg", a.FileName)
			require.Equal(t, "清晨晴", a.LabelZH)
			require.Equal(t, ResultURLs(done), a.URLs)
			require.Equal(t, 1, a.Versions)
			require.Equal(t, "a lamp", a.Prompt)
			require.Equal(t, ImageURLs{}, v.Groups[0].Images[1].URLs, "no result, no links")
			require.Zero(t, v.Groups[0].Images[1].Versions)
		}},
		{name: "label, note, star, kept versions", label: store.BatchLabel{Name: "夏季", ArchivedAt: &archived},
			notes: map[string]*store.GroupNote{"g2": {GroupID: "g2", Title: "T"}}, star: map[string]bool{"c": true},
			kept: []*store.ImageVersion{{ID: "v1", ImageID: "c", ResultKey: "results/older.jpg"}},
			verify: func(t *testing.T, v *Batch) {
				require.Equal(t, "夏季", v.Name)
				require.True(t, v.Archived)
				require.NotNil(t, v.Groups[1].Note)
				require.Equal(t, "T", v.Groups[1].Note.Title)
				require.True(t, v.Groups[1].Images[0].Starred)
				require.False(t, v.Groups[0].Images[0].Starred)
				require.Equal(t, 2, v.Groups[1].Images[0].Versions)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &Batch{ID: "b1", Groups: []Group{
				{ID: "g1", Images: []Image{{ID: "a"}, {ID: "b"}}},
				{ID: "g2", Images: []Image{{ID: "c"}}},
			}}
			rows := Rows{Groups: []*store.Group{g1, g2}, Images: []*store.Image{done, failed, other}}
			decorate(v, rows, tc.star, tc.notes, tc.kept, tc.label)
			tc.verify(t, v)
		})
	}
}
