package batchview

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/ludeng/ludeng/internal/store"
	"github.com/ludeng/ludeng/internal/zipstream"
)

// Selection narrows a batch's archive.
type Selection struct {
	// GroupID keeps one group ("": every group).
	GroupID string
	// Images, when non-nil, keeps these image ids; Starred keeps the
	// starred images. Either makes the archive a selection, written flat
	// (no folders, no notes).
	Images  []string
	Starred bool
}

// MaxSelectedImages bounds Selection.Images.
const MaxSelectedImages = 1000

// ArchiveFile is one file of an archive: an image's result (ResultKey,
// read from the blob store when the zip is written) or a note (Text).
type ArchiveFile struct {
	Path      string
	Size      int64
	Modified  time.Time
	ResultKey string
	Text      []byte
}

// Archive is what the zip of a batch, a group or a selection holds: a
// folder per group with readable image names and the group's note.txt,
// and the manifest of every image.
type Archive struct {
	// Name is the zip's file name.
	Name     string
	Files    []ArchiveFile
	Manifest *zipstream.Manifest
}

// archiveColumns are the manifest's columns, one row per image.
var archiveColumns = []string{"group", "folder", "file", "county", "province", "month", "road", "elements",
	"variant", "prompt_source", "prompt", "note_title", "note_body", "note_hashtags"}

// Archive reads what the zip of b (narrowed by sel) holds. An unknown
// sel.GroupID is store.ErrNotFound.
func (r *Reader) Archive(ctx context.Context, b *store.Batch, sel Selection) (*Archive, error) {
	var only map[string]bool
	switch {
	case sel.Images != nil:
		only = map[string]bool{}
		for _, id := range sel.Images {
			only[id] = true
		}
	case sel.Starred:
		var err error
		if only, err = r.db.StarredOf(ctx, b.ID); err != nil {
			return nil, err
		}
	}
	groups, err := r.db.GroupsOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	imgs, err := r.db.ImagesOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	notes, err := r.db.NotesOf(ctx, b.ID)
	if err != nil {
		return nil, err
	}
	labels, err := r.db.BatchLabels(ctx, []string{b.ID})
	if err != nil {
		return nil, err
	}
	return buildArchive(archiveInput{batch: b, label: labels[b.ID].Name, groups: groups, images: imgs, notes: notes,
		groupID: sel.GroupID, only: only, suffix: selectionSuffix(sel, len(only))})
}

// selectionSuffix names the selection in the zip's file name.
func selectionSuffix(sel Selection, n int) string {
	switch {
	case sel.Images != nil:
		return "已选" + strconv.Itoa(n) + "张"
	case sel.Starred:
		return "星标"
	}
	return ""
}

type archiveInput struct {
	batch   *store.Batch
	label   string
	groups  []*store.Group
	images  []*store.Image
	notes   map[string]*store.GroupNote
	groupID string
	// only, when non-nil, keeps these images and writes them flat.
	only   map[string]bool
	suffix string
}

func buildArchive(in archiveInput) (*Archive, error) {
	b := in.batch
	pl := b.Plan
	byID := map[string]*store.Group{}
	folder := map[string]string{}
	var group *store.Group
	for _, g := range in.groups {
		byID[g.ID] = g
		folder[g.ID] = FolderName(g)
		if g.ID == in.groupID {
			group = g
		}
	}
	if in.groupID != "" && group == nil {
		return nil, store.ErrNotFound
	}
	flat := in.only != nil
	a := &Archive{Name: ArchiveName(in.label, in.groups, b, group, in.suffix),
		Manifest: &zipstream.Manifest{Columns: archiveColumns,
			Meta: map[string]any{"batch_id": b.ID, "name": in.label, "status": b.Status, "seed": b.Seed, "plan": pl}}}
	withNote := map[string]bool{}
	for _, im := range in.images {
		if im.Status != store.ImageSucceeded || (in.groupID != "" && im.GroupID != in.groupID) || (flat && !in.only[im.ID]) {
			continue
		}
		g := byID[im.GroupID]
		if g == nil {
			continue
		}
		name := FileName(g, im)
		p := name
		if !flat {
			p = folder[g.ID] + "/" + name
		}
		a.Files = append(a.Files, ArchiveFile{Path: p, Size: im.Bytes, Modified: im.UpdatedAt, ResultKey: im.ResultKey})
		f := factsOf(g)
		row := []string{strconv.Itoa(g.Index + 1), folder[g.ID], name, f.scene.County, f.scene.Province, strconv.Itoa(f.cmb.Month),
			f.scene.Road.ZH, strings.Join(f.cmb.Elements, "+"), im.Variant.ID, im.PromptSource, im.Prompt, "", "", ""}
		if n := in.notes[g.ID]; n != nil {
			row[11], row[12], row[13] = n.Title, n.Body, strings.Join(n.Hashtags, " ")
			if !flat && !withNote[g.ID] {
				withNote[g.ID] = true
				text := []byte(NoteText(n))
				a.Files = append(a.Files, ArchiveFile{Path: folder[g.ID] + "/note.txt", Size: int64(len(text)), Modified: n.UpdatedAt,
					Text: text})
			}
		}
		a.Manifest.Rows = append(a.Manifest.Rows, row)
	}
	return a, nil
}
