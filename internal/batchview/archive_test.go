package batchview

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/ludeng/ludeng/internal/plan"
	"github.com/ludeng/ludeng/internal/store"
)

func testGroup(id string, index int, county, province, road string, month int) *store.Group {
	return &store.Group{ID: id, Index: index,
		Scene:       plan.Scene{County: county, Province: province, Road: plan.Label{ID: "r", ZH: road}},
		Combination: plan.Combination{Month: month, Elements: []string{"lantern", "bench"}}}
}

func testImage(id, groupID, status, mime string) *store.Image {
	return &store.Image{ID: id, GroupID: groupID, Status: status, MIME: mime, ResultKey: "results/" + id + ".jpg", Bytes: 100,
		Variant: store.Variant{ID: "v1", Time: plan.TimeMorning, Weather: plan.WeatherSunny}, PromptSource: "template", Prompt: "a lamp"}
}

func TestNames(t *testing.T) {
	t.Parallel()
	g1 := testGroup("g1", 0, "延庆区", "北京市", "柏油路", 8)
	g2 := testGroup("g2", 1, "信都区", "河北省", "石板路", 7)
	g3 := testGroup("g3", 2, "", "", "", 1)
	tests := []struct {
		name, got, want string
	}{
		{"file name: number, county, month, time and weather", FileName(g1, testImage("i", "g1", store.ImageSucceeded, "image/jpeg")), "01_延庆区_8月_清晨晴.jpg"},
		{"png keeps its extension", FileName(g2, testImage("i", "g2", store.ImageSucceeded, "image/png")), "02_信都区_7月_清晨晴.png"},
		{"folder: number, place, month, road", FolderName(g1), "01_北京市延庆区_8月_柏油路"},
		{"default name: two groups and the count", DefaultName([]*store.Group{g1, g2, g3}), "延庆区8月、信都区7月 等3组"},
		{"default name: all groups named", DefaultName([]*store.Group{g1, g2}), "延庆区8月、信都区7月"},
		{"default name: nothing to say", DefaultName([]*store.Group{g3}), ""},
		{"archive name: label (made safe), group, selection", ArchiveName("春季 推广", []*store.Group{g1}, &store.Batch{ID: "b"}, g1, "星标"), "春季_推广_01_延庆区_星标.zip"},
		{"archive name: default name", ArchiveName("", []*store.Group{g1, g2}, &store.Batch{ID: "b"}, nil, ""), "延庆区8月、信都区7月.zip"},
		{"archive name: batch id last", ArchiveName("", []*store.Group{g3}, &store.Batch{ID: "b"}, nil, ""), "ludeng_b.zip"},
		{"note text", NoteText(&store.GroupNote{Title: "T", Body: "B", Hashtags: []string{"路灯", "太阳能"}}), "T\n\nB\n\n#路灯 #太阳能\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.got)
		})
	}
}

func TestBuildArchive(t *testing.T) {
	t.Parallel()
	g1 := testGroup("g1", 0, "延庆区", "北京市", "柏油路", 8)
	g2 := testGroup("g2", 1, "信都区", "河北省", "石板路", 7)
	noteAt := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	in := archiveInput{
		batch: &store.Batch{ID: "b1", Status: "succeeded", Seed: 7, Plan: &plan.Plan{}}, label: "夏季",
		groups: []*store.Group{g1, g2},
		images: []*store.Image{
			testImage("a", "g1", store.ImageSucceeded, "image/jpeg"),
			testImage("b", "g1", store.ImageFailed, "image/jpeg"),
			testImage("c", "g2", store.ImageSucceeded, "image/jpeg"),
			testImage("d", "gone", store.ImageSucceeded, "image/jpeg"),
		},
		notes: map[string]*store.GroupNote{"g1": {GroupID: "g1", Title: "T", Body: "B", Hashtags: []string{"x"}, UpdatedAt: noteAt}},
	}
	with := func(f func(*archiveInput)) archiveInput {
		c := in
		f(&c)
		return c
	}
	tests := []struct {
		name      string
		in        archiveInput
		wantName  string
		wantPaths []string
		wantRows  int
		wantErr   error
	}{
		{name: "whole batch: folders, one note per group, succeeded images of known groups", in: in, wantName: "夏季.zip",
			wantPaths: []string{"01_北京市延庆区_8月_柏油路/01_延庆区_8月_清晨晴.jpg", "01_北京市延庆区_8月_柏油路/note.txt",
				"02_河北省信都区_7月_石板路/02_信都区_7月_清晨晴.jpg"}, wantRows: 2},
		{name: "one group", in: with(func(c *archiveInput) { c.groupID = "g2" }), wantName: "夏季_02_信都区.zip",
			wantPaths: []string{"02_河北省信都区_7月_石板路/02_信都区_7月_清晨晴.jpg"}, wantRows: 1},
		{name: "selection: flat, no notes", in: with(func(c *archiveInput) { c.only, c.suffix = map[string]bool{"a": true, "b": true}, "已选2张" }),
			wantName: "夏季_已选2张.zip", wantPaths: []string{"01_延庆区_8月_清晨晴.jpg"}, wantRows: 1},
		{name: "empty selection holds nothing", in: with(func(c *archiveInput) { c.only = map[string]bool{} }), wantName: "夏季.zip",
			wantPaths: nil, wantRows: 0},
		{name: "unknown group", in: with(func(c *archiveInput) { c.groupID = "nope" }), wantErr: store.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, err := buildArchive(tc.in)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantName, a.Name)
			var paths []string
			for _, f := range a.Files {
				paths = append(paths, f.Path)
				if strings.HasSuffix(f.Path, "note.txt") {
					require.Equal(t, "T\n\nB\n\n#x\n", string(f.Text))
					require.Empty(t, f.ResultKey)
					require.Equal(t, noteAt, f.Modified)
				} else {
					require.NotEmpty(t, f.ResultKey)
				}
			}
			require.Equal(t, tc.wantPaths, paths)
			require.Len(t, a.Manifest.Rows, tc.wantRows)
			require.Equal(t, archiveColumns, a.Manifest.Columns)
			require.Equal(t, "b1", a.Manifest.Meta.(map[string]any)["batch_id"])
		})
	}
	// The manifest row of an image with a note carries the note.
	a, err := buildArchive(in)
	require.NoError(t, err)
	require.Equal(t, []string{"1", "01_北京市延庆区_8月_柏油路", "01_延庆区_8月_清晨晴.jpg", "延庆区", "北京市", "8", "柏油路",
		"lantern+bench", "v1", "template", "a lamp", "T", "B", "x"}, a.Manifest.Rows[0])
}

func TestSelectionSuffix(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		sel  Selection
		n    int
		want string
	}{
		{"everything", Selection{}, 0, ""},
		{"one group", Selection{GroupID: "g"}, 0, ""},
		{"images", Selection{Images: []string{"a", "b"}}, 2, "已选2张"},
		{"starred", Selection{Starred: true}, 5, "星标"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, selectionSuffix(tc.sel, tc.n))
		})
	}
}
